// How the secure app turns a database error into an API error: named constraints become
// the field they protect (a foreign key on event_sites is field 'sites'), unique keys 409,
// lost connections and lock timeouts 503. Internal to src/secure; thread-safe.
#pragma once

#include "common/result.h"
#include "db/pool.h"

namespace taquilla::secure {

Error ApiErrorOf(const Error& e);

// Binds `name` to a pooled connection for the rest of the scope, or returns the pool's
// error (503) from the enclosing function.
#define TQ_LEASE(name)                                 \
  auto name##_lease = pool_.Acquire();                 \
  if (!name##_lease.ok()) return name##_lease.error(); \
  db::Connection& name = **name##_lease

}  // namespace taquilla::secure
