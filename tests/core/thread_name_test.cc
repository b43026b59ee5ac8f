#include "core/thread_name.h"

#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <thread>

namespace burnrate {
namespace {

std::string ThisThreadsName() {
  std::ifstream comm("/proc/self/task/" + std::to_string(syscall(SYS_gettid)) + "/comm");
  std::string name;
  std::getline(comm, name);
  return name;
}

TEST(ThreadNameTest, NamesTheCallingThreadCutToTheKernelsFifteenBytes) {
  std::string short_name, long_name, child_name;
  std::thread([&] {
    NameThisThread("br-checkpoint");
    short_name = ThisThreadsName();
    NameThisThread("br-a-name-longer-than-fifteen-bytes");
    long_name = ThisThreadsName();
    std::thread([&] { child_name = ThisThreadsName(); }).join();
  }).join();
  EXPECT_EQ(short_name, "br-checkpoint");
  EXPECT_EQ(long_name, "br-a-name-longe");
  EXPECT_EQ(child_name, "br-a-name-longe") << "a thread starts with its creator's name";
  EXPECT_NE(ThisThreadsName(), "br-checkpoint") << "only the calling thread is named";
}

}  // namespace
}  // namespace burnrate
