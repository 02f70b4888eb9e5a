#include "sync/change.h"

#include <boost/json/basic_parser_impl.hpp>
#include <charconv>
#include <exception>
#include <new>

namespace taquilla::sync {
namespace {

namespace json = boost::json;

// A SAX handler that reads one wal2json v2 message straight into a Change. It keeps the
// text of every number (Boost.JSON hands it over next to the parsed value), so no value
// goes through a double, and it never builds a DOM.
class Wal2JsonHandler {
 public:
  static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);

  Change change;
  std::string action;
  std::optional<Lsn> json_lsn, json_nextlsn;
  std::string failure;  // why the handler stopped the parse

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }

  bool on_object_begin(json::error_code& ec) { return Open(/*object=*/true, ec); }
  bool on_object_end(std::size_t, json::error_code&) { return Close(); }
  bool on_array_begin(json::error_code& ec) { return Open(/*object=*/false, ec); }
  bool on_array_end(std::size_t, json::error_code&) { return Close(); }

  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    key_.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code&) {
    key_.append(s.data(), s.size());
    Frame& f = frames_.back();
    f.key.swap(key_);
    key_.clear();
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, json::error_code&) {
    text_.append(s.data(), s.size());
    return true;
  }
  bool on_string(json::string_view s, std::size_t, json::error_code& ec) {
    text_.append(s.data(), s.size());
    return Scalar(kString, ec);
  }
  bool on_number_part(json::string_view s, json::error_code&) {
    text_.append(s.data(), s.size());
    return true;
  }
  bool on_int64(int64_t, json::string_view s, json::error_code& ec) { return Number(s, ec); }
  bool on_uint64(uint64_t, json::string_view s, json::error_code& ec) { return Number(s, ec); }
  bool on_double(double, json::string_view s, json::error_code& ec) { return Number(s, ec); }
  bool on_bool(bool b, json::error_code& ec) {
    text_ = b ? "t" : "f";  // PostgreSQL's text form of boolean
    return Scalar(kBool, ec);
  }
  bool on_null(json::error_code& ec) { return Scalar(kNull, ec); }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  enum FrameKind { kTop, kColumnList, kIdentityList, kColumn, kIgnored };
  enum ScalarKind { kString, kNumber, kBool, kNull };
  struct Frame {
    FrameKind kind;
    std::string key;  // the current key inside an object frame
  };

  bool Fail(json::error_code& ec, std::string why) {
    failure = std::move(why);
    ec = json::error::syntax;  // any error stops the parser; `failure` says what it was
    return false;
  }

  bool Open(bool object, json::error_code& ec) {
    if (frames_.empty()) {
      if (!object) return Fail(ec, "the message is not a JSON object");
      frames_.push_back({kTop, {}});
      return true;
    }
    Frame& parent = frames_.back();
    FrameKind kind = kIgnored;
    switch (parent.kind) {
      case kTop:
        if (!object && parent.key == "columns") kind = kColumnList;
        if (!object && parent.key == "identity") kind = kIdentityList;
        // Anything else ("pk", future additions) is skipped whole.
        break;
      case kColumnList:
      case kIdentityList:
        if (!object) return Fail(ec, "a column is not an object");
        (parent.kind == kColumnList ? change.columns : change.identity).emplace_back();
        kind = kColumn;
        break;
      case kColumn:
        if (parent.key == "name" || parent.key == "value") {
          return Fail(ec, "column " + CurrentColumn().name + " has a structured " + parent.key);
        }
        break;  // e.g. type details: skipped
      case kIgnored:
        break;
    }
    frames_.push_back({kind, {}});
    return true;
  }

  bool Close() {
    frames_.pop_back();
    return true;
  }

  Column& CurrentColumn() {
    FrameKind list = frames_[frames_.size() - 2].kind;
    return (list == kColumnList ? change.columns : change.identity).back();
  }

  bool Number(json::string_view s, json::error_code& ec) {
    text_.append(s.data(), s.size());
    return Scalar(kNumber, ec);
  }

  bool Scalar(ScalarKind kind, json::error_code& ec) {
    std::string text;
    text.swap(text_);
    Frame& f = frames_.back();
    switch (f.kind) {
      case kTop:
        return TopField(f.key, kind, std::move(text), ec);
      case kColumn:
        if (f.key == "name") {
          if (kind != kString) return Fail(ec, "a column name is not a string");
          CurrentColumn().name = std::move(text);
        } else if (f.key == "value") {
          if (kind == kNull) {
            CurrentColumn().value.reset();
          } else {
            CurrentColumn().value = std::move(text);
          }
        }
        return true;  // "type", "typeoid", "optional"...: not needed
      case kColumnList:
      case kIdentityList:
        return Fail(ec, "a column is not an object");
      case kIgnored:
        return true;
    }
    return true;
  }

  bool TopField(const std::string& key, ScalarKind kind, std::string text, json::error_code& ec) {
    auto want_string = [&]() { return kind == kString || Fail(ec, key + " is not a string"); };
    if (key == "action") {
      if (!want_string()) return false;
      action = std::move(text);
    } else if (key == "xid") {
      if (kind == kNull) return true;
      uint32_t xid = 0;
      auto [end, err] = std::from_chars(text.data(), text.data() + text.size(), xid);
      if (kind != kNumber || err != std::errc() || end != text.data() + text.size()) {
        return Fail(ec, "xid is not a transaction id: " + text);
      }
      change.xid = xid;
    } else if (key == "lsn" || key == "nextlsn") {
      if (!want_string()) return false;
      auto lsn = ParseLsn(text);
      if (!lsn.ok()) return Fail(ec, key + ": " + lsn.error().message);
      (key == "lsn" ? json_lsn : json_nextlsn) = *lsn;
    } else if (key == "schema") {
      if (!want_string()) return false;
      change.schema = std::move(text);
    } else if (key == "table") {
      if (!want_string()) return false;
      change.table = std::move(text);
    } else if (key == "prefix") {
      if (!want_string()) return false;
      change.prefix = std::move(text);
    } else if (key == "content") {
      if (!want_string()) return false;
      change.content = std::move(text);
    } else if (key == "transactional") {
      if (kind != kBool) return Fail(ec, "transactional is not a boolean");
      change.transactional = text == "t";
    }
    // "timestamp", "origin" and later additions are ignored.
    return true;
  }

  std::vector<Frame> frames_;
  std::string key_;
  std::string text_;
};

}  // namespace

std::string_view KindName(Change::Kind kind) {
  switch (kind) {
    case Change::kBegin:
      return "begin";
    case Change::kCommit:
      return "commit";
    case Change::kInsert:
      return "insert";
    case Change::kUpdate:
      return "update";
    case Change::kDelete:
      return "delete";
    case Change::kTruncate:
      return "truncate";
    case Change::kMessage:
      return "message";
  }
  return "?";
}

const std::optional<std::string>* Change::Get(std::string_view name) const {
  for (const Column& c : columns) {
    if (c.name == name) return &c.value;
  }
  return GetOld(name);
}

const std::optional<std::string>* Change::GetOld(std::string_view name) const {
  for (const Column& c : identity) {
    if (c.name == name) return &c.value;
  }
  return nullptr;
}

std::optional<int64_t> Change::GetInt(std::string_view name) const {
  const std::optional<std::string>* v = Get(name);
  if (v == nullptr || !v->has_value()) return std::nullopt;
  const std::string& s = **v;
  int64_t out = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return out;
}

Result<Change> ParseWal2JsonV2(std::string_view text, Lsn wal_start) {
  auto fail = [&](std::string_view why) {
    constexpr size_t kShown = 200;
    return MakeError(ErrorCode::kInternal, "bad wal2json message ({}): {}{}", why,
                     text.substr(0, kShown), text.size() > kShown ? "..." : "");
  };
  try {
    json::basic_parser<Wal2JsonHandler> parser{json::parse_options()};
    json::error_code ec;
    size_t used = parser.write_some(false, text.data(), text.size(), ec);
    Wal2JsonHandler& h = parser.handler();
    if (ec) return fail(h.failure.empty() ? ec.message() : h.failure);
    if (text.substr(used).find_first_not_of(" \t\r\n") != std::string_view::npos) {
      return fail("data after the JSON object");
    }

    Change& c = h.change;
    if (h.action.size() != 1) return fail("no action");
    switch (h.action[0]) {
      case 'B':
        c.kind = Change::kBegin;
        break;
      case 'C':
        c.kind = Change::kCommit;
        break;
      case 'I':
        c.kind = Change::kInsert;
        break;
      case 'U':
        c.kind = Change::kUpdate;
        break;
      case 'D':
        c.kind = Change::kDelete;
        break;
      case 'T':
        c.kind = Change::kTruncate;
        break;
      case 'M':
        c.kind = Change::kMessage;
        break;
      default:
        return fail("unknown action " + h.action);
    }
    switch (c.kind) {
      case Change::kBegin:
        c.commit_lsn = h.json_nextlsn.value_or(0);
        c.lsn = wal_start != 0 ? wal_start : h.json_lsn.value_or(0);
        if (c.commit_lsn == 0) return fail("a begin without nextlsn (include-lsn)");
        break;
      case Change::kCommit:
        c.commit_lsn = h.json_nextlsn.value_or(wal_start);
        c.lsn = c.commit_lsn;
        if (c.commit_lsn == 0) return fail("a commit without nextlsn (include-lsn)");
        break;
      case Change::kInsert:
      case Change::kUpdate:
      case Change::kDelete:
      case Change::kTruncate:
        if (c.table.empty()) return fail("no table");
        c.lsn = h.json_lsn.value_or(wal_start);
        break;
      case Change::kMessage:
        c.lsn = h.json_lsn.value_or(wal_start);
        break;
    }
    for (const Columns* cols : {&c.columns, &c.identity}) {
      for (const Column& col : *cols) {
        if (col.name.empty()) return fail("a column without a name");
      }
    }
    return std::move(c);
  } catch (const std::bad_alloc&) {
    return fail("out of memory");
  } catch (const std::exception& e) {
    return fail(e.what());
  }
}

}  // namespace taquilla::sync
