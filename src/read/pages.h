// The read servers' HTML pages, in the site's language (UI strings from the message
// catalogs, money and dates by ICU for the site's locale and the event's time zone,
// dir="rtl" for Arabic and Hebrew): home, event (listings by price with buy buttons that
// hold on the secure app), category, venue, performer and search (results, facets,
// filters, search-as-you-type), language and site switchers with hreflang links, a
// sitemap per site, robots.txt, the stylesheet and script, "/" (302 to the site and
// language Accept-Language fits best), and a 404 page in the right language for anything
// unknown. Pages work without JavaScript; the script only adds search suggestions.
//
// Thread-safety: AddPages is called before serving; the handlers run concurrently.
#pragma once

#include "read/service.h"

namespace taquilla::read {

void AddPages(ReadService& service);

}  // namespace taquilla::read
