// Env: all file-system access of the durable store goes through here, so tests
// can inject faults (disk full, failed fsync) that this machine cannot produce
// on demand. PosixEnv is the real one; FaultInjectionEnv wraps another Env.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace core {

// An append-only file. Not thread-safe.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual Status Append(std::string_view data) = 0;
  // fdatasync: the appended bytes are on stable storage when this returns.
  virtual Status Sync() = 0;
  virtual Status Close() = 0;
  // Bytes in the file (what Append accepted, including earlier content).
  virtual uint64_t Size() const = 0;
};

// Thread-safe.
class Env {
 public:
  virtual ~Env() = default;
  // Opens `path` for appending, creating it if absent.
  virtual Result<std::unique_ptr<WritableFile>> OpenAppendable(const std::string& path) = 0;
  virtual Result<std::string> ReadFile(const std::string& path) = 0;
  // Names (not paths) of the entries of `dir`, sorted.
  virtual Result<std::vector<std::string>> ListDir(const std::string& dir) = 0;
  virtual Status CreateDirs(const std::string& dir) = 0;
  virtual Status RemoveFile(const std::string& path) = 0;
  virtual Status RenameFile(const std::string& from, const std::string& to) = 0;
  // Cuts the file to `size` bytes and fsyncs it.
  virtual Status TruncateFile(const std::string& path, uint64_t size) = 0;
  // fsync of a directory, so a rename or create in it is durable.
  virtual Status SyncDir(const std::string& dir) = 0;
  virtual bool FileExists(const std::string& path) = 0;
};

class PosixEnv final : public Env {
 public:
  Result<std::unique_ptr<WritableFile>> OpenAppendable(const std::string& path) override;
  Result<std::string> ReadFile(const std::string& path) override;
  Result<std::vector<std::string>> ListDir(const std::string& dir) override;
  Status CreateDirs(const std::string& dir) override;
  Status RemoveFile(const std::string& path) override;
  Status RenameFile(const std::string& from, const std::string& to) override;
  Status TruncateFile(const std::string& path, uint64_t size) override;
  Status SyncDir(const std::string& dir) override;
  bool FileExists(const std::string& path) override;
};

// Wraps an Env and fails writes on demand: a byte budget simulates a full disk
// (an append beyond it writes a prefix, then fails, like ENOSPC), and
// fail_syncs makes Sync fail (EIO). Thread-safe.
class FaultInjectionEnv final : public Env {
 public:
  explicit FaultInjectionEnv(Env& base) : base_(base) {}

  // Appends may write at most `bytes` more bytes in total; -1 = unlimited.
  void SetWriteBudget(int64_t bytes) { budget_.store(bytes); }
  void SetFailSyncs(bool fail) { fail_syncs_.store(fail); }

  Result<std::unique_ptr<WritableFile>> OpenAppendable(const std::string& path) override;
  Result<std::string> ReadFile(const std::string& path) override { return base_.ReadFile(path); }
  Result<std::vector<std::string>> ListDir(const std::string& dir) override {
    return base_.ListDir(dir);
  }
  Status CreateDirs(const std::string& dir) override { return base_.CreateDirs(dir); }
  Status RemoveFile(const std::string& path) override { return base_.RemoveFile(path); }
  Status RenameFile(const std::string& from, const std::string& to) override {
    return base_.RenameFile(from, to);
  }
  Status TruncateFile(const std::string& path, uint64_t size) override {
    return base_.TruncateFile(path, size);
  }
  Status SyncDir(const std::string& dir) override { return base_.SyncDir(dir); }
  bool FileExists(const std::string& path) override { return base_.FileExists(path); }

 private:
  friend class FaultInjectionFile;
  Env& base_;
  std::atomic<int64_t> budget_{-1};
  std::atomic<bool> fail_syncs_{false};
};

}  // namespace core
