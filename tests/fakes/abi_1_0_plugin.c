/* A plugin built against plugin ABI 1.0, before cb_host_api grew
 * tls_settings (1.1): it declares minor 0 and knows only the 1.0 services.
 * A 1.1 host must load it and run it unchanged (append-only ABI, STYLE.md).
 * Written in C with its own copy of the one 1.0 size it relies on, as a
 * plugin compiled years ago would have it baked in. */
#include <carebridge/plugin_abi.h>

#include <stdlib.h>
#include <string.h>

/* sizeof(cb_host_api) in ABI 1.0: the nine members up to `count`. */
#define ABI_1_0_HOST_API_SIZE 72u

struct cb_instance {
  const cb_host_api* api;
  cb_host_instance* host;
};

static int32_t create(const cb_host_api* api, cb_host_instance* host, const cb_config_value* values, uint32_t count,
                      cb_instance** out, cb_error_buf* err) {
  (void)values; (void)count;
  if (api->abi_major != 1 || api->struct_size < ABI_1_0_HOST_API_SIZE) {
    static const char msg[] = "host table smaller than ABI 1.0";
    size_t n = sizeof msg - 1 < err->cap ? sizeof msg - 1 : err->cap;
    memcpy(err->data, msg, n);
    err->len = n;
    return CB_ERROR;
  }
  struct cb_instance* self = calloc(1, sizeof *self);
  if (self == NULL) return CB_ERROR;
  self->api = api;
  self->host = host;
  *out = self;
  return CB_OK;
}

static int32_t start(cb_instance* i, cb_error_buf* err) {
  (void)err;
  static const char msg[] = "ABI 1.0 plugin started";
  cb_bytes m = {msg, sizeof msg - 1};
  i->api->log(i->host, CB_LOG_INFO, m);
  return CB_OK;
}

static void deliver(cb_instance* i, const cb_delivery* d, cb_delivery_done_fn done, void* token) {
  (void)i;
  cb_delivery_result r;
  memset(&r, 0, sizeof r);
  r.struct_size = sizeof r;
  r.status = CB_OK;
  r.remote_id = d->message_id;
  done(token, &r);
}

static void stop(cb_instance* i) { (void)i; }
static void destroy(cb_instance* i) { free(i); }

static const cb_plugin kPlugin = {sizeof(cb_plugin), 1, 0, "abi_1_0", "1.0.0", "built for plugin ABI 1.0",
                                  CB_CAP_OUTBOUND, 0, 0, create, start, deliver, stop, destroy};

CB_PLUGIN_EXPORT const cb_plugin* cb_plugin_entry(uint16_t major, uint16_t minor) {
  (void)major; (void)minor;
  return &kPlugin;
}
