// The producer/consumer hand-off of the seed load: a generator thread writes COPY
// text-format rows into ~1 MiB chunks; the loader thread (which owns the PostgreSQL
// connection) sends them. Channel is thread-safe; a TableWriter belongs to the
// producer thread.
#pragma once

#include <charconv>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace taquilla::seed {

struct Chunk {
  enum Type { kBegin, kData, kEnd } type = kData;
  std::string text;  // kBegin: the COPY statement; kData: rows
  int64_t rows = 0;
};

// Thrown inside the producer thread when the consumer gave up; never escapes Seed().
struct PipeAborted {};

class Channel {
 public:
  explicit Channel(size_t capacity = 8) : capacity_(capacity) {}

  void Put(Chunk c) {
    std::unique_lock lock(mu_);
    can_put_.wait(lock, [&] { return q_.size() < capacity_ || aborted_; });
    if (aborted_) throw PipeAborted{};
    q_.push_back(std::move(c));
    can_get_.notify_one();
  }
  // False once the producer closed the channel and every chunk was taken.
  bool Get(Chunk* c) {
    std::unique_lock lock(mu_);
    can_get_.wait(lock, [&] { return !q_.empty() || closed_; });
    if (q_.empty()) return false;
    *c = std::move(q_.front());
    q_.pop_front();
    can_put_.notify_one();
    return true;
  }
  void Close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    can_get_.notify_all();
  }
  // The consumer failed: the producer's next Put throws PipeAborted.
  void Abort() {
    std::lock_guard lock(mu_);
    aborted_ = true;
    can_put_.notify_all();
  }
  std::string TakeBuffer() {
    std::lock_guard lock(mu_);
    if (free_.empty()) return {};
    std::string s = std::move(free_.back());
    free_.pop_back();
    s.clear();
    return s;
  }
  void GiveBuffer(std::string s) {
    std::lock_guard lock(mu_);
    if (free_.size() < capacity_ + 2) free_.push_back(std::move(s));
  }

 private:
  const size_t capacity_;
  std::mutex mu_;
  std::condition_variable can_put_, can_get_;
  std::deque<Chunk> q_;
  std::vector<std::string> free_;
  bool closed_ = false, aborted_ = false;
};

// Formats rows of one table in COPY text format.
class TableWriter {
 public:
  static constexpr size_t kChunkBytes = 1 << 20;
  explicit TableWriter(Channel* ch) : ch_(ch) {}

  void Begin(std::string copy_sql) {
    ch_->Put(Chunk{Chunk::kBegin, std::move(copy_sql), 0});
    buf_ = ch_->TakeBuffer();
    buf_.reserve(kChunkBytes + 64 * 1024);
    rows_ = 0;
    table_rows_ = 0;
  }
  void End() {
    Flush();
    ch_->Put(Chunk{Chunk::kEnd, {}, 0});
  }
  int64_t table_rows() const { return table_rows_; }

  TableWriter& Int(int64_t v) {
    Sep();
    char tmp[24];
    auto r = std::to_chars(tmp, tmp + sizeof(tmp), v);
    buf_.append(tmp, r.ptr);
    return *this;
  }
  TableWriter& Str(std::string_view v) {
    Sep();
    size_t run = 0;
    for (size_t i = 0; i < v.size(); ++i) {
      char c = v[i];
      const char* esc = nullptr;
      switch (c) {
        case '\\':
          esc = "\\\\";
          break;
        case '\t':
          esc = "\\t";
          break;
        case '\n':
          esc = "\\n";
          break;
        case '\r':
          esc = "\\r";
          break;
        default:
          continue;
      }
      buf_.append(v.data() + run, i - run);
      buf_.append(esc);
      run = i + 1;
    }
    buf_.append(v.data() + run, v.size() - run);
    return *this;
  }
  // A value known to need no escaping (numbers, timestamps, codes).
  TableWriter& Raw(std::string_view v) {
    Sep();
    buf_.append(v);
    return *this;
  }
  TableWriter& Null() { return Raw("\\N"); }
  void EndRow() {
    buf_.push_back('\n');
    first_ = true;
    ++rows_;
    ++table_rows_;
    if (buf_.size() >= kChunkBytes) Flush();
  }

 private:
  void Sep() {
    if (!first_) buf_.push_back('\t');
    first_ = false;
  }
  void Flush() {
    if (buf_.empty()) return;
    std::string next = ch_->TakeBuffer();
    next.reserve(kChunkBytes + 64 * 1024);
    std::swap(next, buf_);
    ch_->Put(Chunk{Chunk::kData, std::move(next), rows_});
    rows_ = 0;
  }

  Channel* ch_;
  std::string buf_;
  bool first_ = true;
  int64_t rows_ = 0, table_rows_ = 0;
};

}  // namespace taquilla::seed
