// The one translation unit that compiles Boost.JSON and Boost.URL. Every
// other file includes only their headers; linking cb_json_impl provides the
// definitions (Boost's documented header-only mode, without a shared library).
#include <boost/json/src.hpp>
#include <boost/url/src.hpp>
