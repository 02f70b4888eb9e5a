// What the secure app's and the read servers' HTML pages share: the embedded templates
// (templates/layout.mustache around templates/<area>/<page>.mustache), Boost.JSON data
// turned into mustache data (every value HTML-escaped by the template engine unless a
// template uses {{{ }}}, which ours never do), the message catalog as nested names
// ({{t.login.title}}), the HTML security headers, gzip and strong ETags.
// Pure functions; thread-safe.
#pragma once

#include <boost/json.hpp>
#include <string>
#include <string_view>

#include "common/result.h"
#include "http/server.h"
#include "i18n/messages.h"

namespace taquilla::web {

inline constexpr std::string_view kHtmlType = "text/html; charset=utf-8";
inline constexpr std::string_view kCssPath = "static/taquilla.css";

// An embedded file ("templates/read/event.mustache", "static/taquilla.css"), or "".
std::string_view Embedded(std::string_view path);

// The flat catalog as nested objects: "login.title" becomes t.login.title.
boost::json::object NestedCatalog(const i18n::Messages::Catalog& catalog);

// Renders `page` (a path under templates/) inside templates/layout.mustache with `data`.
// The layout reads title, lang, dir, t (the catalog) and optional blocks; the page is its
// "content" partial. Errors: a missing or broken template (kInternal).
Result<std::string> RenderPage(std::string_view page, const boost::json::value& data);

// The secure app's pages: no script at all, forms only to this origin.
inline constexpr std::string_view kSecureCsp =
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'";
// The read pages: same-origin script and fetches (search suggestions); forms may end on
// the secure app's origin (the buy and login forms go there through a 303).
inline constexpr std::string_view kReadCsp =
    "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; "
    "connect-src 'self'; form-action *; frame-ancestors 'none'; base-uri 'none'";

// Content-Type, Content-Language and the security headers of an HTML page, with the
// Content-Security-Policy `csp` (never inline script or style).
void SetHtmlHeaders(http::Response& res, std::string_view lang, std::string_view csp);

// gzip of `data` (level 6), or "" when compressing fails.
std::string Gzip(std::string_view data);
// A strong ETag of a body: a quoted 128-bit BLAKE2b hash.
std::string ETagOf(std::string_view body);
// True when an If-None-Match header value matches `etag` (a list, weak forms, or *).
bool ETagMatches(std::string_view if_none_match, std::string_view etag);
// True when Accept-Encoding allows gzip (q=0 refuses it).
bool AcceptsGzip(std::string_view accept_encoding);

}  // namespace taquilla::web
