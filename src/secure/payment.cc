#include "secure/payment.h"

#include "http/json_input.h"

namespace taquilla::secure {

Result<std::string> TestCardProvider::Charge(const ChargeRequest& request) {
  if (request.method != "test_card") {
    return http::InvalidField("payment.method", "must be test_card");
  }
  if (request.number == "4000000000000002") {
    return MakeReason(ErrorCode::kFailedPrecondition, "payment_declined", "The card was declined.");
  }
  if (request.number != "4242424242424242") {
    return http::InvalidField("payment.number",
                              "must be a test card: 4242424242424242 (accepted) or "
                              "4000000000000002 (declined)");
  }
  return fmt::format("test_{}_{}", request.idempotency_key, next_.fetch_add(1));
}

Status TestCardProvider::Refund(const std::string&) {
  refunds_.fetch_add(1);
  return Ok();
}

}  // namespace taquilla::secure
