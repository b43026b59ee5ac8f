#include "app/line_reader.h"

#include <cerrno>
#include <cstring>

namespace burnrate {

LineReader::LineReader(const std::string& path) : capacity_(1 << 20) {
  if (path == "-") {
    file_ = stdin;
  } else {
    file_ = std::fopen(path.c_str(), "rb");
    owns_file_ = true;
    if (!file_) error_ = path + ": " + std::strerror(errno);
  }
  buffer_ = std::make_unique<char[]>(capacity_);
}

LineReader::~LineReader() {
  if (file_ && owns_file_) std::fclose(file_);
}

bool LineReader::Refill() {
  if (eof_) return false;
  // Keep the unfinished line, moved to the front; grow when one line fills the buffer.
  const size_t pending = end_ - begin_;
  if (begin_ > 0) std::memmove(buffer_.get(), buffer_.get() + begin_, pending);
  begin_ = 0;
  end_ = pending;
  if (end_ == capacity_) {
    auto bigger = std::make_unique<char[]>(capacity_ * 2);
    std::memcpy(bigger.get(), buffer_.get(), end_);
    buffer_ = std::move(bigger);
    capacity_ *= 2;
  }
  const size_t n = std::fread(buffer_.get() + end_, 1, capacity_ - end_, file_);
  if (n == 0) {
    eof_ = true;
    if (std::ferror(file_)) error_ = std::string("read error: ") + std::strerror(errno);
    return false;
  }
  end_ += n;
  return true;
}

bool LineReader::Next(std::string_view& line) {
  if (!file_) return false;
  for (;;) {
    const char* start = buffer_.get() + begin_;
    const void* nl = std::memchr(start, '\n', end_ - begin_);
    if (nl) {
      size_t len = static_cast<const char*>(nl) - start;
      begin_ += len + 1;
      if (len > 0 && start[len - 1] == '\r') --len;
      line = std::string_view(start, len);
      return true;
    }
    if (!Refill()) {
      if (end_ > begin_) {  // the last line had no newline
        line = std::string_view(buffer_.get() + begin_, end_ - begin_);
        begin_ = end_;
        return true;
      }
      return false;
    }
  }
}

}  // namespace burnrate
