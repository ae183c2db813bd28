/* A plugin built for a future plugin ABI major version: the host must refuse
 * to load it, naming the plugin and both versions. Written in C, as a plugin
 * from another team might be. */
#include <carebridge/plugin_abi.h>

static int32_t create(const cb_host_api* api, cb_host_instance* host, const cb_config_value* values, uint32_t count,
                      cb_instance** out, cb_error_buf* err) {
  (void)api; (void)host; (void)values; (void)count; (void)out; (void)err;
  return CB_ERROR;
}
static int32_t start(cb_instance* i, cb_error_buf* err) { (void)i; (void)err; return CB_ERROR; }
static void stop(cb_instance* i) { (void)i; }
static void destroy(cb_instance* i) { (void)i; }

static const cb_plugin kPlugin = {sizeof(cb_plugin), CB_PLUGIN_ABI_MAJOR + 1, 0, "wrong_abi", "9.9.9",
                                  "built for another ABI", CB_CAP_OUTBOUND, 0, 0, create, start, 0, stop, destroy};

CB_PLUGIN_EXPORT const cb_plugin* cb_plugin_entry(uint16_t major, uint16_t minor) {
  (void)major; (void)minor;
  return &kPlugin;
}
