// Search as you type: suggestions under the search box from the read API
// (/api/v1/sites/{site}/search?prefix=1). The page works without it; this only adds a
// list of links that arrow keys and Enter can reach.
(function () {
  'use strict';
  var input = document.getElementById('q');
  var list = document.getElementById('suggestions');
  if (!input || !list || !window.fetch) return;
  var base = input.getAttribute('data-suggest');
  var timer = null;
  var last = '';
  var controller = null;

  function clear() {
    while (list.firstChild) list.removeChild(list.firstChild);
    list.hidden = true;
    input.setAttribute('aria-expanded', 'false');
  }

  function show(items) {
    clear();
    items.forEach(function (item, i) {
      var li = document.createElement('li');
      li.setAttribute('role', 'option');
      li.id = 'suggestion-' + i;
      var a = document.createElement('a');
      a.href = item.url;
      a.textContent = item.title;
      var small = document.createElement('small');
      small.textContent = item.venue ? item.venue.name + ', ' + item.venue.city : '';
      a.appendChild(small);
      li.appendChild(a);
      list.appendChild(li);
    });
    list.hidden = items.length === 0;
    input.setAttribute('aria-expanded', items.length ? 'true' : 'false');
  }

  function lookup() {
    var q = input.value.trim();
    if (q === last) return;
    last = q;
    if (q.length < 2) { clear(); return; }
    if (controller) controller.abort();
    controller = window.AbortController ? new AbortController() : null;
    fetch(base + '&prefix=1&per_page=6&q=' + encodeURIComponent(q),
          controller ? { signal: controller.signal } : {})
      .then(function (r) { return r.ok ? r.json() : { items: [] }; })
      .then(function (body) { if (input.value.trim() === q) show(body.items || []); })
      .catch(function () {});
  }

  input.addEventListener('input', function () {
    clearTimeout(timer);
    timer = setTimeout(lookup, 120);
  });
  input.addEventListener('keydown', function (e) {
    if (e.key === 'ArrowDown' && !list.hidden) {
      var first = list.querySelector('a');
      if (first) { first.focus(); e.preventDefault(); }
    } else if (e.key === 'Escape') {
      clear();
    }
  });
  list.addEventListener('keydown', function (e) {
    var links = Array.prototype.slice.call(list.querySelectorAll('a'));
    var i = links.indexOf(document.activeElement);
    if (e.key === 'ArrowDown' && i < links.length - 1) { links[i + 1].focus(); e.preventDefault(); }
    if (e.key === 'ArrowUp') { (i > 0 ? links[i - 1] : input).focus(); e.preventDefault(); }
    if (e.key === 'Escape') { clear(); input.focus(); }
  });
  document.addEventListener('click', function (e) {
    if (!list.contains(e.target) && e.target !== input) clear();
  });
})();
