// Names for the engine's threads, so that `top -H`, `perf` and `gdb` tell
// the checkpoint committer from the window closer (librdkafka names its own
// threads `rdk:...`). The polling thread is the main thread and keeps the
// program's name: renaming it would rename the process in `ps`.
#pragma once

#include <string_view>

namespace burnrate {

// Names the calling thread. Linux keeps the first 15 bytes. Threads the
// named one creates afterwards start with its name (cpp-httplib's workers
// take the HTTP server's).
void NameThisThread(std::string_view name);

}  // namespace burnrate
