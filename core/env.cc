#include "core/env.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace core {
namespace {

Unexpected<Error> IoError(const std::string& what, const std::string& path, int err) {
  return Fail(ErrorCode::kUnavailable, what + " " + path + ": " + std::strerror(err));
}

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd, uint64_t size)
      : path_(std::move(path)), fd_(fd), size_(size) {}
  ~PosixWritableFile() override {
    if (fd_ >= 0) ::close(fd_);
  }

  Status Append(std::string_view data) override {
    while (!data.empty()) {
      ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return IoError("write", path_, errno);
      }
      size_ += static_cast<uint64_t>(n);
      data.remove_prefix(static_cast<size_t>(n));
    }
    return {};
  }
  Status Sync() override {
    if (::fdatasync(fd_) != 0) return IoError("fdatasync", path_, errno);
    return {};
  }
  Status Close() override {
    if (fd_ >= 0 && ::close(fd_) != 0) {
      fd_ = -1;
      return IoError("close", path_, errno);
    }
    fd_ = -1;
    return {};
  }
  uint64_t Size() const override { return size_; }

 private:
  std::string path_;
  int fd_;
  uint64_t size_;
};

}  // namespace

Result<std::unique_ptr<WritableFile>> PosixEnv::OpenAppendable(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return IoError("open", path, errno);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return IoError("stat", path, err);
  }
  return std::unique_ptr<WritableFile>(
      new PosixWritableFile(path, fd, static_cast<uint64_t>(st.st_size)));
}

Result<std::string> PosixEnv::ReadFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError("open", path, errno);
  std::string out;
  char buf[1 << 16];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return IoError("read", path, err);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

Result<std::vector<std::string>> PosixEnv::ListDir(const std::string& dir) {
  std::error_code ec;
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    names.push_back(entry.path().filename().string());
  }
  if (ec) return Fail(ErrorCode::kUnavailable, "list " + dir + ": " + ec.message());
  std::sort(names.begin(), names.end());
  return names;
}

Status PosixEnv::CreateDirs(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Fail(ErrorCode::kUnavailable, "create directory " + dir + ": " + ec.message());
  return {};
}

Status PosixEnv::RemoveFile(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return IoError("remove", path, errno);
  return {};
}

Status PosixEnv::RenameFile(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) return IoError("rename", from, errno);
  return {};
}

Status PosixEnv::TruncateFile(const std::string& path, uint64_t size) {
  // Durable: after a power loss the cut must not come back (a WAL tail cut at
  // start-up would otherwise reappear in a segment that is no longer the last).
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return IoError("open", path, errno);
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0 || ::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    return IoError("truncate", path, err);
  }
  ::close(fd);
  return {};
}

Status PosixEnv::SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return IoError("open", dir, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return IoError("fsync", dir, err);
  return {};
}

bool PosixEnv::FileExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

class FaultInjectionFile final : public WritableFile {
 public:
  FaultInjectionFile(FaultInjectionEnv& env, std::unique_ptr<WritableFile> base)
      : env_(env), base_(std::move(base)) {}
  Status Append(std::string_view data) override {
    int64_t budget = env_.budget_.load();
    if (budget >= 0 && static_cast<int64_t>(data.size()) > budget) {
      // Like a disk filling up mid-write: a prefix lands, then ENOSPC.
      if (budget > 0) {
        auto st = base_->Append(data.substr(0, static_cast<size_t>(budget)));
        if (!st) return st;
      }
      env_.budget_.store(0);
      return Fail(ErrorCode::kUnavailable, "write: No space left on device (injected)");
    }
    if (budget >= 0) env_.budget_.fetch_sub(static_cast<int64_t>(data.size()));
    return base_->Append(data);
  }
  Status Sync() override {
    if (env_.fail_syncs_.load()) {
      return Fail(ErrorCode::kUnavailable, "fdatasync: Input/output error (injected)");
    }
    return base_->Sync();
  }
  Status Close() override { return base_->Close(); }
  uint64_t Size() const override { return base_->Size(); }

 private:
  FaultInjectionEnv& env_;
  std::unique_ptr<WritableFile> base_;
};

Result<std::unique_ptr<WritableFile>> FaultInjectionEnv::OpenAppendable(const std::string& path) {
  auto base = base_.OpenAppendable(path);
  if (!base) return Unexpected(base.error());
  return std::unique_ptr<WritableFile>(new FaultInjectionFile(*this, std::move(*base)));
}

}  // namespace core
