/* Reads its instance's [adapter.tls] through the host's tls_settings service
 * (plugin ABI 1.1) in create(), the raw C way a plugin from another team
 * would, and answers every delivery with CB_OK and what it saw as remote_id:
 *   "rc=<0|1> small=<rc for a too-small struct> tail=<sentinel kept?> configured=<0|1>
 *    certificate=<path> private_key=<path> ca=<path> crl=<path> server_name=<name> pins=<p1,p2,...>"
 * (one line, fields separated by spaces). */
#include <carebridge/plugin_abi.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cb_instance {
  char seen[4096];
};

/* What a plugin built for a later minor might pass: the 1.1 struct with a
 * member appended. The host must fill what it knows and leave the rest. */
typedef struct grown_tls_settings {
  cb_tls_settings known;
  uint64_t appended;
} grown_tls_settings;

static void append(char* out, size_t cap, const char* name, cb_bytes b) {
  size_t used = strlen(out);
  if (used + 1 >= cap) return;
  snprintf(out + used, cap - used, " %s=%.*s", name, (int)b.len, b.data != NULL ? b.data : "");
}

static int32_t create(const cb_host_api* api, cb_host_instance* host, const cb_config_value* values, uint32_t count,
                      cb_instance** out, cb_error_buf* err) {
  (void)values; (void)count; (void)err;
  struct cb_instance* self = calloc(1, sizeof *self);
  if (self == NULL) return CB_ERROR;
  if (api->struct_size <= offsetof(cb_host_api, tls_settings) || api->tls_settings == NULL) {
    snprintf(self->seen, sizeof self->seen, "no tls_settings service");
    *out = self;
    return CB_OK;
  }
  cb_tls_settings small;
  memset(&small, 0, sizeof small);
  small.struct_size = (uint32_t)offsetof(cb_tls_settings, certificate);
  const int32_t small_rc = api->tls_settings(host, &small);

  grown_tls_settings t;
  memset(&t, 0, sizeof t);
  t.known.struct_size = sizeof t;
  t.appended = 0x5eed;
  const int32_t rc = api->tls_settings(host, &t.known);
  snprintf(self->seen, sizeof self->seen, "rc=%d small=%d tail=%s size=%s configured=%d", (int)rc, (int)small_rc,
           t.appended == 0x5eed ? "kept" : "overwritten", t.known.struct_size == sizeof t ? "kept" : "changed",
           (int)t.known.configured);
  append(self->seen, sizeof self->seen, "certificate", t.known.certificate);
  append(self->seen, sizeof self->seen, "private_key", t.known.private_key);
  append(self->seen, sizeof self->seen, "ca", t.known.ca);
  append(self->seen, sizeof self->seen, "crl", t.known.crl);
  append(self->seen, sizeof self->seen, "server_name", t.known.server_name);
  strncat(self->seen, " pins=", sizeof self->seen - strlen(self->seen) - 1);
  for (size_t i = 0; i < t.known.pin_count; ++i) {
    size_t used = strlen(self->seen);
    snprintf(self->seen + used, sizeof self->seen - used, "%s%.*s", i == 0 ? "" : ",", (int)t.known.pins[i].len,
             t.known.pins[i].data);
  }
  *out = self;
  return CB_OK;
}

static int32_t start(cb_instance* i, cb_error_buf* err) { (void)i; (void)err; return CB_OK; }

static void deliver(cb_instance* i, const cb_delivery* d, cb_delivery_done_fn done, void* token) {
  (void)d;
  cb_delivery_result r;
  memset(&r, 0, sizeof r);
  r.struct_size = sizeof r;
  r.status = CB_OK;
  r.remote_id.data = i->seen;
  r.remote_id.len = strlen(i->seen);
  done(token, &r);
}

static void stop(cb_instance* i) { (void)i; }
static void destroy(cb_instance* i) { free(i); }

static const cb_plugin kPlugin = {sizeof(cb_plugin), CB_PLUGIN_ABI_MAJOR, 1, "tls_probe", "1.1.0",
                                  "reports the [adapter.tls] the host hands over", CB_CAP_OUTBOUND, 0, 0,
                                  create, start, deliver, stop, destroy};

CB_PLUGIN_EXPORT const cb_plugin* cb_plugin_entry(uint16_t major, uint16_t minor) {
  (void)major; (void)minor;
  return &kPlugin;
}
