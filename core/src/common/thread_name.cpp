#include "common/thread_name.h"

#include <pthread.h>

namespace cb {

void nameThisThread(const char* name) {
  // Purely diagnostic: a name that is too long or refused changes nothing.
  (void)pthread_setname_np(pthread_self(), name);
}

}  // namespace cb
