#include "core/thread_name.h"

#include <pthread.h>

#include <algorithm>
#include <array>

namespace burnrate {

void NameThisThread(std::string_view name) {
  std::array<char, 16> terminated{};  // the kernel's limit, with the NUL
  const size_t n = std::min(name.size(), terminated.size() - 1);
  std::copy_n(name.data(), n, terminated.data());
  pthread_setname_np(pthread_self(), terminated.data());  // only a label: a failure changes nothing
}

}  // namespace burnrate
