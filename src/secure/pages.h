// The secure app's HTML pages: log in and out, register, the account, selling, holding
// and paying, and the backoffice — server-rendered from mustache templates (every value
// HTML-escaped), usable without JavaScript.
//
// Every POST is an application/x-www-form-urlencoded form parsed with Boost.URL and
// checked for CSRF: a logged-in form carries the session's csrf_token; the login and
// register forms, which come before a session exists, use a double-submit cookie
// (tq_csrf_pre) plus the same value in a hidden field. Pages that need a login redirect
// (303) to /login?next=…; the backoffice is 403 for non-admins. Market errors show their
// message on the page with the API's status; internal errors never show their details.
// UI strings come from i18n::Messages in the user's locale (or ?lang= / Accept-Language
// before login), falling back to English.
//
// Thread-safety: the handlers may run concurrently; AddPages must be called before the
// server starts.
#pragma once

#include <string_view>

#include "secure/api.h"

namespace taquilla::secure {

inline constexpr std::string_view kPreSessionCsrfCookie = "tq_csrf_pre";

// Registers the HTML routes on api.router().
void AddPages(SecureApi& api);

}  // namespace taquilla::secure
