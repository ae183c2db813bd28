#pragma once
// Names the calling thread, so `top -H`, `ps -L`, perf and a core dump show
// which of carebridged's threads is which (the store's writer, the route
// stage, an I/O thread). Linux keeps at most 15 characters of it.
namespace cb {

void nameThisThread(const char* name);

}  // namespace cb
