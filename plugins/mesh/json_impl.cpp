// Boost.JSON's implementation, compiled exactly once into this plugin (the
// plugin is its own shared library with hidden symbols, so it does not clash
// with the copy inside carebridged).
#include <boost/json/src.hpp>
