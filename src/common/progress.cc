#include "common/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace taquilla {

Progress::Progress(std::string label, uint64_t total)
    : label_(std::move(label)),
      total_(std::max<uint64_t>(total, 1)),
      tty_(isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()) {}

Progress::~Progress() { Finish(); }

void Progress::SetLabel(std::string label) {
  label_ = std::move(label);
  Draw();
}

void Progress::Set(uint64_t done) {
  done_ = std::min(done, total_);
  auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ >= std::chrono::milliseconds(100)) {
    last_draw_ = now;
    Draw();
  }
}

void Progress::Draw() {
  if (!tty_ || finished_) return;
  constexpr int kWidth = 30;
  double frac = static_cast<double>(done_) / static_cast<double>(total_);
  int filled = static_cast<int>(frac * kWidth);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::string bar(filled, '#');
  bar.append(kWidth - filled, '-');
  std::string line =
      fmt::format("\r{:<28.28} [{}] {:5.1f}% {:6.1f}s", label_, bar, frac * 100, secs);
  fputs(line.c_str(), stderr);
  fflush(stderr);
}

void Progress::Finish() {
  if (finished_) return;
  done_ = total_;
  Draw();
  if (tty_) fputs("\n", stderr);
  finished_ = true;
}

}  // namespace taquilla
