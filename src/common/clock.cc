#include "common/clock.h"

namespace taquilla {

const SystemClock& SystemClock::Instance() {
  static const SystemClock kClock;
  return kClock;
}

}  // namespace taquilla
