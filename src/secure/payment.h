// PaymentProvider: how an order is charged. The secure app calls Charge before it turns
// a hold into an order and Refund when the order could not be recorded, so a buyer is
// never charged for tickets they did not get. TestCardProvider is the built-in provider
// for demos and tests: it accepts 4242424242424242 and declines 4000000000000002, like
// the card numbers payment processors publish for testing. Implementations are
// thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "common/result.h"

namespace taquilla::secure {

struct ChargeRequest {
  std::string method;  // "test_card"
  std::string number;
  int64_t amount_minor = 0;
  std::string currency;
  std::string idempotency_key;  // the same key never charges twice
};

class PaymentProvider {
 public:
  virtual ~PaymentProvider() = default;
  // A payment reference, or an Error with reason "payment_declined" (402) or a
  // kInvalidArgument naming the bad field.
  virtual Result<std::string> Charge(const ChargeRequest& request) = 0;
  virtual Status Refund(const std::string& reference) = 0;
};

class TestCardProvider final : public PaymentProvider {
 public:
  Result<std::string> Charge(const ChargeRequest& request) override;
  Status Refund(const std::string& reference) override;
  int64_t refunds() const { return refunds_.load(); }

 private:
  std::atomic<int64_t> next_{1};
  std::atomic<int64_t> refunds_{0};
};

}  // namespace taquilla::secure
