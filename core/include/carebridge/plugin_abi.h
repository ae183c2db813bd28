/*
 * carebridge adapter plugin ABI (pure C).
 *
 * An adapter plugin is a shared library that speaks one protocol or one
 * vendor system (HTTPS, HL7 v2 over MLLP, NHS MESH, a watched folder, ...).
 * Plugins are built separately from the daemon, possibly by another trust's
 * engineers with another compiler, so this boundary is an "hourglass":
 *
 *  - one exported entry point, `cb_plugin_entry` (CB_PLUGIN_ENTRY_SYMBOL);
 *  - every struct starts with `struct_size` and, where it describes a whole
 *    side of the contract, the ABI version; structs only ever grow by
 *    appending fields (static_asserts in the host pin sizes and offsets);
 *  - only (pointer, length) buffers, plain integers and opaque handles cross;
 *    no C++ types, no exceptions (the C++ SDK in plugin_sdk.hpp wraps every
 *    entry in try/catch and the host does too);
 *  - every pointer says who owns it (OWNERSHIP notes below);
 *  - host services (logging, clock, record submission, HTTPS server and
 *    client using the daemon's certificates, timers, and the instance's TLS
 *    settings for a protocol that must terminate TLS itself) come in as a
 *    function table, so plugins need not embed OpenSSL or open sockets
 *    unless their protocol demands it.
 *
 * Versioning (after SQLite's append-only sqlite3_api_routines and httpd's
 * MODULE_MAGIC_NUMBER_MAJOR/MINOR): the host refuses a plugin whose
 * abi_major differs from its own, or whose abi_minor is newer than the
 * host's (the plugin may call services the host does not have). A plugin
 * built for an older minor keeps working: new host services are appended.
 *
 * Threads: the host may call `deliver` for one instance from several threads
 * at once; `create`, `start`, `stop` and `destroy` are never concurrent with
 * each other. Callbacks from host services run on host I/O threads and must
 * not block.
 */
#ifndef CAREBRIDGE_PLUGIN_ABI_H
#define CAREBRIDGE_PLUGIN_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CB_PLUGIN_ABI_MAJOR 1
#define CB_PLUGIN_ABI_MINOR 1
/* Minor versions: 1.0 the first; 1.1 appends cb_host_api.tls_settings. */

/* The one symbol a plugin exports. */
#define CB_PLUGIN_ENTRY_SYMBOL "cb_plugin_entry"

#if defined(__GNUC__)
#define CB_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define CB_PLUGIN_EXPORT
#endif

/* A borrowed byte range. OWNERSHIP: never owned by the receiver; valid only
 * for the duration of the call it is passed to unless stated otherwise.
 * Text is UTF-8 and not necessarily NUL-terminated. */
typedef struct cb_bytes {
  const char* data;
  size_t len;
} cb_bytes;

/* Tri-state outcome of an adapter operation (after Fluent Bit's flush
 * results): done; failed but worth retrying later; failed for good. */
typedef enum cb_status {
  CB_OK = 0,
  CB_RETRY = 1,
  CB_ERROR = 2
} cb_status;

typedef enum cb_log_level {
  CB_LOG_TRACE = 0,
  CB_LOG_DEBUG = 1,
  CB_LOG_INFO = 2,
  CB_LOG_WARN = 3,
  CB_LOG_ERROR = 4
} cb_log_level;

/* A buffer the host provides for an error message (create/start failures).
 * OWNERSHIP: host-owned; the plugin writes at most `cap` bytes and sets `len`. */
typedef struct cb_error_buf {
  char* data;
  size_t cap;
  size_t len;
} cb_error_buf;

/* Opaque handles.
 * cb_host_instance: the host's side of one configured adapter instance.
 *   OWNERSHIP: host-owned; valid from create() until destroy() returns.
 * cb_instance: the plugin's side. OWNERSHIP: plugin-owned; created by
 *   create(), freed by destroy(). */
typedef struct cb_host_instance cb_host_instance;
typedef struct cb_instance cb_instance;

/* ---------------------------------------------------------------------------
 * Configuration: a plugin declares its keys (Fluent Bit's config_map); the
 * host validates the adapter's `[adapter.settings]` table against them
 * (unknown keys and wrong types are errors naming file:line) and passes the
 * values as canonical strings.
 * ------------------------------------------------------------------------- */
typedef enum cb_config_type {
  CB_CONFIG_STRING = 0,      /* any string */
  CB_CONFIG_INT = 1,         /* decimal integer, e.g. "30" */
  CB_CONFIG_BOOL = 2,        /* "true" or "false" */
  CB_CONFIG_DURATION_MS = 3, /* TOML integer milliseconds or string "30s", "5m", "250ms"; passed as decimal ms */
  CB_CONFIG_PATH = 4,        /* a file system path, resolved relative to the config file's folder */
  CB_CONFIG_ENDPOINT = 5     /* "host:port" */
} cb_config_type;

typedef struct cb_config_key {
  const char* key;           /* NUL-terminated; OWNERSHIP: plugin-static */
  uint32_t type;             /* cb_config_type */
  const char* default_value; /* NULL: the key is required; OWNERSHIP: plugin-static */
  const char* help;          /* one line for `carebridge plugins` and error messages */
} cb_config_key;

/* One validated setting. OWNERSHIP: host-owned, valid during create(). */
typedef struct cb_config_value {
  cb_bytes key;
  cb_bytes value;
} cb_config_value;

/* ---------------------------------------------------------------------------
 * Inbound: a plugin that receives a record from a partner hands it to the
 * host with submit(). The host stores it durably (SQLite, group commit) and
 * only then calls `done` with CB_SUBMIT_STORED: only then may the plugin
 * acknowledge the sender (HTTP 2xx, HL7 AA, MESH acknowledge, move the file).
 * ------------------------------------------------------------------------- */
typedef struct cb_inbound_record {
  uint32_t struct_size;        /* sizeof(cb_inbound_record) as the plugin knows it */
  cb_bytes sender_message_id;  /* the sender's own id, for duplicate detection; may be empty */
  cb_bytes content_type;       /* e.g. "application/fhir+json", "x-application/hl7-v2+er7" */
  cb_bytes subject;            /* the person the record concerns, if the plugin knows it cheaply
                                  (for per-person ordering; never logged, stored only as a keyed hash);
                                  may be empty: the translate stage derives it from the record */
  cb_bytes record_type;        /* a hint such as "ADT^A08"; may be empty */
  cb_bytes payload;            /* the record exactly as received */
} cb_inbound_record;

typedef enum cb_submit_result {
  CB_SUBMIT_STORED = 0,      /* committed; acknowledge the sender */
  CB_SUBMIT_DUPLICATE = 1,   /* already stored earlier under the same sender id; acknowledge again */
  CB_SUBMIT_REFUSED = 2,     /* will never be accepted (e.g. too large); tell the sender, do not retry */
  CB_SUBMIT_UNAVAILABLE = 3  /* not stored (store failing, daemon stopping); the sender should retry later */
} cb_submit_result;

/* Called exactly once per submit(), on a host I/O thread (never while the
 * host holds a lock, so it may respond to the sender directly). `message_id` is
 * carebridge's id for the record (empty unless STORED/DUPLICATE); `reason`
 * explains a refusal. OWNERSHIP: both borrowed for the call. */
typedef void (*cb_submit_done_fn)(void* user, int result, cb_bytes message_id, cb_bytes reason);

/* ---------------------------------------------------------------------------
 * Outbound: the host asks a plugin to deliver a rendered record to its
 * partner. The plugin reports once, through `done`, with CB_OK (the partner
 * has it), CB_RETRY (try again later, optionally not before retry_after_ms)
 * or CB_ERROR (the partner refused it for good: dead letter).
 * ------------------------------------------------------------------------- */
typedef struct cb_delivery {
  uint32_t struct_size;
  cb_bytes message_id;   /* stable across attempts: receivers detect redelivery by it */
  cb_bytes destination;  /* the adapter instance name */
  cb_bytes content_type;
  cb_bytes record_type;
  cb_bytes payload;      /* OWNERSHIP: host-owned, valid until done() is called */
  uint32_t attempt;      /* 1 for the first attempt */
} cb_delivery;

typedef struct cb_delivery_result {
  uint32_t struct_size;
  int32_t status;          /* cb_status */
  cb_bytes reason;         /* why it failed; no record content; borrowed for the call */
  int64_t retry_after_ms;  /* with CB_RETRY: earliest next attempt, 0 = host's backoff */
  cb_bytes remote_id;      /* the partner's id for what it stored (e.g. a FHIR Location); may be empty */
} cb_delivery_result;

/* Called exactly once per deliver(), from any thread. `token` is the host's.
 * OWNERSHIP: `result` borrowed for the call. */
typedef void (*cb_delivery_done_fn)(void* token, const cb_delivery_result* result);

/* ---------------------------------------------------------------------------
 * Host HTTPS services, using the adapter instance's certificates
 * (`[adapter.tls]`): mutual TLS, TLS 1.2+, peer verified against the
 * configured CA, optional CRL and pins.
 * ------------------------------------------------------------------------- */
typedef struct cb_http_header {
  cb_bytes name;
  cb_bytes value;
} cb_http_header;

/* An inbound request. OWNERSHIP: host-owned, valid until http_respond() is
 * called for its exchange (the plugin may keep pointers until then). */
typedef struct cb_http_request {
  uint32_t struct_size;
  cb_bytes method;
  cb_bytes target;
  const cb_http_header* headers;
  size_t header_count;
  cb_bytes body;
  cb_bytes peer_common_name;  /* CN of the verified client certificate */
  cb_bytes peer_subject;
} cb_http_request;

typedef struct cb_http_response {
  uint32_t struct_size;
  uint32_t status;
  const cb_http_header* headers;
  size_t header_count;
  cb_bytes body;
} cb_http_response;

/* One request/response exchange. OWNERSHIP: host-owned; consumed by
 * http_respond(), which must be called exactly once (from any thread). */
typedef struct cb_http_exchange cb_http_exchange;

typedef void (*cb_http_handler_fn)(void* user, cb_http_exchange* exchange, const cb_http_request* request);

typedef struct cb_http_serve_options {
  uint32_t struct_size;
  cb_bytes listen;             /* "host:port" */
  uint64_t body_limit;         /* 0 = host default (1 MiB) */
  int64_t read_timeout_ms;     /* 0 = host default */
} cb_http_serve_options;

/* The outcome of an outbound request: an HTTP response, or a transport
 * failure (status 0 and `error` set). `tls_refused` is 1 when the partner's
 * certificate failed verification. OWNERSHIP: borrowed for the callback. */
typedef struct cb_http_result {
  uint32_t struct_size;
  uint32_t status;
  const cb_http_header* headers;
  size_t header_count;
  cb_bytes body;
  cb_bytes error;
  int32_t timed_out;
  int32_t tls_refused;
} cb_http_result;

typedef struct cb_http_client_request {
  uint32_t struct_size;
  cb_bytes method;
  cb_bytes url;
  const cb_http_header* headers;
  size_t header_count;
  cb_bytes body;
  int64_t timeout_ms;  /* 0 = host default (10 s) */
} cb_http_client_request;

typedef void (*cb_http_response_fn)(void* user, const cb_http_result* result);

/* ---------------------------------------------------------------------------
 * TLS settings for plugins whose protocol is not HTTP (ABI 1.1): a plugin
 * that terminates TLS itself (HL7 v2 over MLLP, DICOM, raw TCP feeds) asks
 * for the instance's `[adapter.tls]` with tls_settings() and builds its own
 * TLS context from them, instead of declaring certificate keys of its own.
 *
 * Why settings and not a ready-made context: an SSL_CTX* (or any TLS
 * library object) is not a stable type across this boundary. The plugin may
 * be built by another compiler against another OpenSSL (or another TLS
 * library altogether), and the host's context carries callbacks and ex_data
 * indices that belong to the host's copy of OpenSSL. Plain paths and strings
 * are safe for every plugin.
 *
 * What the host guarantees: before create() is called the host has built its
 * own server and client contexts from the same settings, so the files exist,
 * are PEM, the key matches the certificate and every pin is well formed; a
 * configuration that fails any of that never reaches the plugin. Paths are
 * absolute (resolved against the config file's folder).
 *
 * What the plugin must do to match the host's HTTPS policy (core/src/net/
 * tls.h): TLS 1.2 minimum with ECDHE + AEAD suites; present `certificate`
 * (leaf then intermediates, as listed) with `private_key`; require the
 * peer's certificate to chain to `ca` (mutual TLS both ways); with `crl`
 * set, check revocation of the whole chain and fail closed when a CRL is
 * missing or expired (RFC 5280 section 6.3); with `pins` set, refuse a
 * peer whose leaf SubjectPublicKeyInfo SHA-256 matches none of them
 * (RFC 7469 section 2.4); as a client, verify `server_name` (or the host
 * of the endpoint when empty) per RFC 6125 and send it as SNI. Plugins
 * using OpenSSL get the pin check from carebridge/tls_pins.hpp, the same
 * code the host runs.
 * ------------------------------------------------------------------------- */
typedef struct cb_tls_settings {
  uint32_t struct_size;  /* set by the CALLER (the plugin) to sizeof(cb_tls_settings) as it knows it; the
                            host fills only the members that fit and leaves later ones as they were */
  int32_t configured;    /* 1: the instance has [adapter.tls] and the members below are set;
                            0: it has none (every member below empty) */
  cb_bytes certificate;  /* PEM file: our certificate, then intermediates */
  cb_bytes private_key;  /* PEM file: the unencrypted private key of `certificate` */
  cb_bytes ca;           /* PEM file: trust anchors the peer's certificate must chain to */
  cb_bytes crl;          /* PEM file of CRLs of every CA in the peer's chain; empty = no CRL check */
  cb_bytes server_name;  /* client side: name to verify and send as SNI; empty = the endpoint's host */
  const cb_bytes* pins;  /* "sha256/<base64 SPKI digest>" each; the peer's leaf must match one */
  size_t pin_count;      /* 0 = no pinning */
} cb_tls_settings;

/* Called exactly once per timer_once(): when due with cancelled == 0, or with
 * cancelled == 1 if the instance stopped first (then only release `user`). */
typedef void (*cb_timer_fn)(void* user, int32_t cancelled);

/* ---------------------------------------------------------------------------
 * The host's services. OWNERSHIP: host-owned, valid for the life of the
 * process; the same table is passed to every instance.
 * ------------------------------------------------------------------------- */
typedef struct cb_host_api {
  uint32_t struct_size;
  uint16_t abi_major;
  uint16_t abi_minor;

  /* Logs as "plugin.<instance>". Never pass record content or identifiers of people. */
  void (*log)(cb_host_instance* host, int32_t level, cb_bytes message);

  /* Wall clock, Unix milliseconds (the daemon's clock, fakeable in tests). */
  int64_t (*now_unix_ms)(cb_host_instance* host);

  /* Hands a received record to the daemon; `done` is called exactly once,
   * after the record is committed or refused. Returns 0 if accepted for
   * processing; non-zero if not (an invalid call, or the instance is
   * stopping): then `done` is not called and the sender should retry later. */
  int32_t (*submit)(cb_host_instance* host, const cb_inbound_record* record, cb_submit_done_fn done, void* user);

  /* Starts an HTTPS listener with the instance's TLS settings; requests go to
   * `handler` until the instance is stopped. Returns 0 or non-zero with `err`
   * filled. The host closes the listener when the instance stops. */
  int32_t (*http_serve)(cb_host_instance* host, const cb_http_serve_options* options, cb_http_handler_fn handler,
                        void* user, cb_error_buf* err);

  /* Completes an inbound exchange. */
  void (*http_respond)(cb_http_exchange* exchange, const cb_http_response* response);

  /* Sends an HTTPS request with the instance's TLS settings over a pooled
   * keep-alive connection; `done` is called exactly once. Returns 0, or
   * non-zero if the request is malformed (done is not called). */
  int32_t (*http_request)(cb_host_instance* host, const cb_http_client_request* request, cb_http_response_fn done,
                          void* user);

  /* Calls `fn(user, 0)` once after `delay_ms` on a host thread, or
   * `fn(user, 1)` when the instance stops first. For polling (folders, MESH
   * inboxes). Returns 0, or non-zero if the instance is stopping (fn is not called). */
  int32_t (*timer_once)(cb_host_instance* host, int64_t delay_ms, cb_timer_fn fn, void* user);

  /* Adds `delta` to the counter carebridge_plugin_events_total{instance,event=name}. */
  void (*count)(cb_host_instance* host, cb_bytes name, int64_t delta);

  /* ---- ABI 1.1. A plugin that may run under a 1.0 host checks
   * struct_size > offsetof(cb_host_api, tls_settings) before calling. */

  /* Fills `out` with the instance's [adapter.tls] (see cb_tls_settings).
   * Callable from create() on. Returns 0, or non-zero (out untouched) when
   * `out` is NULL or its struct_size is smaller than the 1.1 struct.
   * OWNERSHIP: every buffer written is host-owned, immutable and valid until
   * the instance's destroy() returns (a config reload builds new instances). */
  int32_t (*tls_settings)(cb_host_instance* host, cb_tls_settings* out);
} cb_host_api;

/* ---------------------------------------------------------------------------
 * What a plugin provides. OWNERSHIP: plugin-static; must stay valid while the
 * library is loaded.
 * ------------------------------------------------------------------------- */
typedef enum cb_capability {
  CB_CAP_INBOUND = 1u << 0,  /* receives records from a partner (calls submit) */
  CB_CAP_OUTBOUND = 1u << 1  /* delivers records to a partner (implements deliver) */
} cb_capability;

typedef struct cb_plugin {
  uint32_t struct_size;
  uint16_t abi_major;
  uint16_t abi_minor;
  const char* name;         /* e.g. "https"; matches `plugin = "https"` in the config */
  const char* version;      /* the plugin's own version */
  const char* description;  /* one line */
  uint32_t capabilities;    /* cb_capability bits */
  const cb_config_key* config_keys;
  uint32_t config_key_count;

  /* Builds an instance from validated settings. Must not start I/O yet.
   * Returns CB_OK, or CB_ERROR with `err` filled (names the key at fault). */
  int32_t (*create)(const cb_host_api* api, cb_host_instance* host, const cb_config_value* values, uint32_t count,
                    cb_instance** out, cb_error_buf* err);
  /* Starts receiving (listeners, timers). CB_OK or CB_ERROR with `err`. */
  int32_t (*start)(cb_instance* instance, cb_error_buf* err);
  /* Delivers one record; reports through done(token, ...) exactly once.
   * NULL for inbound-only plugins. */
  void (*deliver)(cb_instance* instance, const cb_delivery* delivery, cb_delivery_done_fn done, void* token);
  /* Stops receiving and finishes or abandons (done with CB_RETRY) deliveries
   * in flight. After stop returns the host calls no more deliver(). */
  void (*stop)(cb_instance* instance);
  /* Frees the instance. */
  void (*destroy)(cb_instance* instance);
} cb_plugin;

/* The exported entry point. The host passes its own ABI version so a plugin
 * can refuse (return NULL) or adapt; the host then checks the returned
 * plugin's abi_major/abi_minor. */
typedef const cb_plugin* (*cb_plugin_entry_fn)(uint16_t host_abi_major, uint16_t host_abi_minor);

#ifdef __cplusplus
}
#endif

#endif /* CAREBRIDGE_PLUGIN_ABI_H */
