#include "aggregator/template.h"

#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>
#include <optional>
#include <set>
#include <variant>
#include <vector>

#include "aggregator/promql_text.h"

namespace rules {

namespace template_internal {

// ---- AST -------------------------------------------------------------------

struct PipeNode;

// An operand of a command: a term with an optional field chain.
struct ArgNode {
  enum class Kind { kIdent, kDot, kField, kVariable, kString, kNumber, kBool, kNil, kPipe };
  Kind kind = Kind::kNil;
  std::string text;                 // identifier, variable name (with $), string value
  std::vector<std::string> fields;  // .a.b after the term (for kField: the chain itself)
  double number = 0;
  bool is_int = false;
  int64_t int_value = 0;
  bool bool_value = false;
  std::shared_ptr<PipeNode> pipe;  // kPipe
};

struct CommandNode {
  std::vector<ArgNode> args;
  std::string source;  // for messages
  int pos = 0;
};

struct PipeNode {
  std::vector<std::string> decl;  // declared variables ($x :=), or empty
  bool assign = false;            // `=` rather than `:=`
  std::vector<CommandNode> cmds;
};

struct Node;
struct ListNode {
  std::vector<Node> nodes;
};

struct Node {
  enum class Kind { kText, kAction, kIf, kWith, kRange };
  Kind kind = Kind::kText;
  std::string text;
  std::shared_ptr<PipeNode> pipe;
  std::shared_ptr<ListNode> list;
  std::shared_ptr<ListNode> else_list;
  int pos = 0;
};

}  // namespace template_internal

namespace {

using template_internal::ArgNode;
using template_internal::CommandNode;
using template_internal::ListNode;
using template_internal::Node;
using template_internal::PipeNode;

// What Prometheus prepends to every alert template (rules/alerting.go); it
// shifts the columns Go reports on the first line.
constexpr int kPrometheusDefsLength = 112;

const std::set<std::string_view>& KnownFunctions() {
  static const std::set<std::string_view> kFunctions = {
      // Go's builtins.
      "and", "call", "html", "index", "slice", "js", "len", "not", "or", "print", "printf",
      "println", "urlquery", "eq", "ge", "gt", "le", "lt", "ne",
      // Prometheus' template functions (template/template.go, 2.42).
      "query", "first", "label", "value", "strvalue", "args", "reReplaceAll", "safeHtml", "match",
      "title", "toUpper", "toLower", "graphLink", "tableLink", "sortByLabel", "humanize",
      "humanize1024", "humanizeDuration", "humanizePercentage", "humanizeTimestamp", "pathPrefix",
      "externalURL", "parseDuration", "stripPort", "toTime", "tmpl"};
  return kFunctions;
}

core::Unexpected<core::Error> Err(std::string message) {
  return core::Fail(core::ErrorCode::kInvalidRequest, std::move(message));
}

// ---- Lexer -----------------------------------------------------------------

struct Token {
  enum class Kind {
    kEof,
    kIdent,
    kDot,
    kField,
    kVariable,
    kString,
    kRawString,
    kChar,
    kNumber,
    kPipe,
    kLParen,
    kRParen,
    kDeclare,
    kAssign,
    kComma,
  };
  Kind kind = Kind::kEof;
  std::string text;
  int pos = 0;
};

bool IsIdentChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// Splits the inside of one action into tokens.
core::Result<std::vector<Token>> LexAction(std::string_view src, int base) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < src.size()) {
    const char c = src[i];
    const int pos = base + static_cast<int>(i);
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      ++i;
      continue;
    }
    if (c == '|') {
      out.push_back({Token::Kind::kPipe, "|", pos});
      ++i;
    } else if (c == '(') {
      out.push_back({Token::Kind::kLParen, "(", pos});
      ++i;
    } else if (c == ')') {
      out.push_back({Token::Kind::kRParen, ")", pos});
      ++i;
    } else if (c == ',') {
      out.push_back({Token::Kind::kComma, ",", pos});
      ++i;
    } else if (c == ':' && i + 1 < src.size() && src[i + 1] == '=') {
      out.push_back({Token::Kind::kDeclare, ":=", pos});
      i += 2;
    } else if (c == '=') {
      out.push_back({Token::Kind::kAssign, "=", pos});
      ++i;
    } else if (c == '"' || c == '`' || c == '\'') {
      size_t j = i + 1;
      while (j < src.size() && src[j] != c) {
        if (c != '`' && src[j] == '\\') ++j;
        if (c != '`' && j < src.size() && src[j] == '\n') break;
        ++j;
      }
      if (j >= src.size() || src[j] != c) {
        return Err(c == '`' ? "unterminated raw quoted string"
                            : (c == '"' ? "unterminated quoted string"
                                        : "unterminated character constant"));
      }
      Token::Kind kind = c == '"' ? Token::Kind::kString
                                  : (c == '`' ? Token::Kind::kRawString : Token::Kind::kChar);
      out.push_back({kind, std::string(src.substr(i, j + 1 - i)), pos});
      i = j + 1;
    } else if (c == '$') {
      size_t j = i + 1;
      while (j < src.size() && IsIdentChar(src[j])) ++j;
      out.push_back({Token::Kind::kVariable, std::string(src.substr(i, j - i)), pos});
      i = j;
    } else if (c == '.' &&
               (i + 1 >= src.size() || !std::isdigit(static_cast<unsigned char>(src[i + 1])))) {
      size_t j = i + 1;
      while (j < src.size() && IsIdentChar(src[j])) ++j;
      if (j == i + 1) {
        out.push_back({Token::Kind::kDot, ".", pos});
      } else {
        out.push_back({Token::Kind::kField, std::string(src.substr(i + 1, j - i - 1)), pos});
      }
      i = j;
    } else if (std::isdigit(static_cast<unsigned char>(c)) || c == '.' ||
               ((c == '-' || c == '+') && i + 1 < src.size() &&
                (std::isdigit(static_cast<unsigned char>(src[i + 1])) || src[i + 1] == '.'))) {
      size_t j = i + 1;
      while (j < src.size() &&
             (std::isalnum(static_cast<unsigned char>(src[j])) || src[j] == '.' || src[j] == '_' ||
              ((src[j] == '-' || src[j] == '+') && (src[j - 1] == 'e' || src[j - 1] == 'E' ||
                                                    src[j - 1] == 'p' || src[j - 1] == 'P')))) {
        ++j;
      }
      out.push_back({Token::Kind::kNumber, std::string(src.substr(i, j - i)), pos});
      i = j;
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t j = i + 1;
      while (j < src.size() && IsIdentChar(src[j])) ++j;
      out.push_back({Token::Kind::kIdent, std::string(src.substr(i, j - i)), pos});
      i = j;
    } else {
      return Err("unrecognized character in action: " +
                 promql::QuoteRune(static_cast<unsigned char>(c)));
    }
  }
  out.push_back({Token::Kind::kEof, "", base + static_cast<int>(src.size())});
  return out;
}

// ---- Parser ----------------------------------------------------------------

class Parser {
 public:
  Parser(std::string_view name, std::string_view text) : name_(name), text_(text) {
    vars_ = {"$", "$labels", "$externalLabels", "$externalURL", "$value"};
  }

  core::Result<std::shared_ptr<ListNode>> Run() {
    auto list = std::make_shared<ListNode>();
    std::string end_word;
    if (auto st = ParseList(list.get(), &end_word); !st) return core::Unexpected(st.error());
    if (!end_word.empty()) return Error(end_pos_, "unexpected {{" + end_word + "}}");
    return list;
  }

 private:
  int LineOf(int pos) const {
    return 1 + static_cast<int>(std::count(
                   text_.begin(), text_.begin() + std::min<size_t>(pos, text_.size()), '\n'));
  }
  core::Unexpected<core::Error> Error(int pos, const std::string& msg) const {
    return Err("template: " + std::string(name_) + ":" + std::to_string(LineOf(pos)) + ": " + msg);
  }

  // Parses text and actions until EOF or an {{end}} / {{else ...}}, whose
  // keyword goes to `end_word` (the rest of an `else if` goes to else_rest_).
  core::Status ParseList(ListNode* list, std::string* end_word) {
    while (pos_ < text_.size()) {
      size_t open = text_.find("{{", pos_);
      std::string_view text =
          text_.substr(pos_, open == std::string_view::npos ? std::string_view::npos : open - pos_);
      if (open == std::string_view::npos) {
        AddText(list, text, static_cast<int>(pos_));
        pos_ = text_.size();
        break;
      }
      bool trim_left = open + 3 < text_.size() && text_[open + 2] == '-' &&
                       std::isspace(static_cast<unsigned char>(text_[open + 3]));
      if (trim_left) {
        size_t e = text.size();
        while (e > 0 && std::isspace(static_cast<unsigned char>(text[e - 1]))) --e;
        text = text.substr(0, e);
      }
      AddText(list, text, static_cast<int>(pos_));
      size_t inner_start = open + (trim_left ? 3 : 2);
      // Comments.
      size_t probe = inner_start;
      while (trim_left && probe < text_.size() &&
             std::isspace(static_cast<unsigned char>(text_[probe])))
        ++probe;
      if (text_.substr(probe, 2) == "/*") {
        size_t close_comment = text_.find("*/", probe + 2);
        if (close_comment == std::string_view::npos)
          return Error(static_cast<int>(open), "unclosed comment");
        size_t after = close_comment + 2;
        bool trim_right = false;
        if (text_.substr(after, 3) == " -}" && text_.substr(after + 1, 3) == "-}}") {
          trim_right = true;
          after += 4;
        } else if (text_.substr(after, 2) == "}}") {
          after += 2;
        } else {
          return Error(static_cast<int>(open), "comment ends before closing delimiter");
        }
        pos_ = after;
        if (trim_right) SkipSpace();
        continue;
      }
      size_t close = FindClose(inner_start);
      if (close == std::string_view::npos) return Error(static_cast<int>(open), "unclosed action");
      bool trim_right = close >= 2 && text_[close - 1] == '-' &&
                        std::isspace(static_cast<unsigned char>(text_[close - 2])) &&
                        close - 1 >= inner_start;
      std::string_view inner =
          text_.substr(inner_start, (trim_right ? close - 1 : close) - inner_start);
      pos_ = close + 2;
      if (trim_right) SkipSpace();
      auto tokens = LexAction(inner, static_cast<int>(inner_start));
      if (!tokens) return Error(static_cast<int>(open), tokens.error().message);
      toks_ = std::move(*tokens);
      ti_ = 0;
      const int action_pos = static_cast<int>(open);
      if (toks_[0].kind == Token::Kind::kEof) return Error(action_pos, "missing value for command");
      if (toks_[0].kind == Token::Kind::kIdent) {
        const std::string& word = toks_[0].text;
        if (word == "end" || word == "else") {
          ++ti_;
          *end_word = word;
          end_pos_ = action_pos;
          if (word == "end" && toks_[ti_].kind != Token::Kind::kEof) {
            return Error(action_pos, "unexpected " + Describe(toks_[ti_]) + " in end");
          }
          return {};
        }
        if (word == "if" || word == "with" || word == "range") {
          ++ti_;
          if (auto st = ParseControl(list, word, action_pos); !st) return st;
          continue;
        }
        if (word == "define" || word == "template" || word == "block" || word == "break" ||
            word == "continue") {
          return Error(action_pos, "{{" + word + "}} is not supported by tally's templates");
        }
      }
      auto pipe = ParsePipeline(action_pos, "command", true);
      if (!pipe) return core::Unexpected(pipe.error());
      if (toks_[ti_].kind != Token::Kind::kEof) {
        return Error(action_pos, "unexpected " + Describe(toks_[ti_]) + " in command");
      }
      Node n;
      n.kind = Node::Kind::kAction;
      n.pipe = std::move(*pipe);
      n.pos = action_pos;
      list->nodes.push_back(std::move(n));
    }
    return {};
  }

  // Parses `if|with|range PIPE`, its body, optional else (or else if), and end.
  core::Status ParseControl(ListNode* list, const std::string& word, int action_pos) {
    const size_t vars_mark = vars_.size();
    auto pipe = ParsePipeline(action_pos, word, false);
    if (!pipe) return core::Unexpected(pipe.error());
    if (toks_[ti_].kind != Token::Kind::kEof) {
      return Error(action_pos, "unexpected " + Describe(toks_[ti_]) + " in " + word);
    }
    Node n;
    n.kind =
        word == "if" ? Node::Kind::kIf : (word == "with" ? Node::Kind::kWith : Node::Kind::kRange);
    n.pipe = std::move(*pipe);
    n.pos = action_pos;
    n.list = std::make_shared<ListNode>();
    std::string end_word;
    if (auto st = ParseList(n.list.get(), &end_word); !st) return st;
    if (end_word.empty()) return Error(action_pos, "unexpected EOF");
    if (end_word == "else") {
      n.else_list = std::make_shared<ListNode>();
      if (toks_[ti_].kind == Token::Kind::kIdent &&
          (toks_[ti_].text == "if" || toks_[ti_].text == "with")) {
        // `else if` nests a control node that shares our {{end}}.
        std::string inner = toks_[ti_].text;
        ++ti_;
        if (auto st = ParseControl(n.else_list.get(), inner, end_pos_); !st) return st;
      } else {
        if (toks_[ti_].kind != Token::Kind::kEof) {
          return Error(end_pos_, "unexpected " + Describe(toks_[ti_]) + " in else");
        }
        std::string end2;
        if (auto st = ParseList(n.else_list.get(), &end2); !st) return st;
        if (end2 != "end")
          return Error(action_pos,
                       end2.empty() ? "unexpected EOF" : "expected end; found {{else}}");
      }
    }
    vars_.resize(vars_mark);
    list->nodes.push_back(std::move(n));
    return {};
  }

  core::Result<std::shared_ptr<PipeNode>> ParsePipeline(int action_pos, const std::string& context,
                                                        bool allow_assign) {
    auto pipe = std::make_shared<PipeNode>();
    // Declarations: $x := / $x = / $k, $v :=
    if (toks_[ti_].kind == Token::Kind::kVariable) {
      size_t save = ti_;
      std::vector<std::string> names = {toks_[ti_].text};
      ++ti_;
      if (toks_[ti_].kind == Token::Kind::kComma && context == "range" &&
          toks_[ti_ + 1].kind == Token::Kind::kVariable) {
        names.push_back(toks_[ti_ + 1].text);
        ti_ += 2;
      }
      if (toks_[ti_].kind == Token::Kind::kDeclare) {
        ++ti_;
        pipe->decl = names;
      } else if (toks_[ti_].kind == Token::Kind::kAssign && names.size() == 1 && allow_assign) {
        ++ti_;
        if (std::find(vars_.begin(), vars_.end(), names[0]) == vars_.end()) {
          return Error(action_pos, "undefined variable \"" + names[0] + "\"");
        }
        pipe->decl = names;
        pipe->assign = true;
      } else {
        ti_ = save;
      }
    }
    while (true) {
      CommandNode cmd;
      cmd.pos = toks_[ti_].pos;
      const int start = toks_[ti_].pos;
      while (toks_[ti_].kind != Token::Kind::kEof && toks_[ti_].kind != Token::Kind::kPipe &&
             toks_[ti_].kind != Token::Kind::kRParen) {
        auto arg = ParseOperand(action_pos);
        if (!arg) return core::Unexpected(arg.error());
        cmd.args.push_back(std::move(*arg));
      }
      if (cmd.args.empty()) return Error(action_pos, "missing value for " + context);
      const int end = toks_[ti_].pos;
      cmd.source = std::string(text_.substr(start, end - start));
      while (!cmd.source.empty() && std::isspace(static_cast<unsigned char>(cmd.source.back())))
        cmd.source.pop_back();
      for (size_t i = 1; i < cmd.args.size(); ++i) {
        if (cmd.args[0].kind != ArgNode::Kind::kIdent) {
          return Error(action_pos, "can't give argument to non-function " + cmd.args[0].text);
        }
      }
      pipe->cmds.push_back(std::move(cmd));
      if (toks_[ti_].kind != Token::Kind::kPipe) break;
      ++ti_;
    }
    // Declared variables are visible after the declaration.
    for (const std::string& v : pipe->decl) {
      if (!pipe->assign) vars_.push_back(v);
    }
    return pipe;
  }

  core::Result<ArgNode> ParseOperand(int action_pos) {
    const Token& t = toks_[ti_];
    ArgNode a;
    switch (t.kind) {
      case Token::Kind::kIdent:
        if (t.text == "true" || t.text == "false") {
          a.kind = ArgNode::Kind::kBool;
          a.bool_value = t.text == "true";
        } else if (t.text == "nil") {
          a.kind = ArgNode::Kind::kNil;
        } else {
          if (!KnownFunctions().contains(t.text)) {
            return Error(action_pos, "function \"" + t.text + "\" not defined");
          }
          a.kind = ArgNode::Kind::kIdent;
        }
        a.text = t.text;
        ++ti_;
        return a;
      case Token::Kind::kDot:
        a.kind = ArgNode::Kind::kDot;
        a.text = ".";
        ++ti_;
        break;
      case Token::Kind::kField:
        a.kind = ArgNode::Kind::kField;
        a.text = "." + t.text;
        a.fields.push_back(t.text);
        ++ti_;
        break;
      case Token::Kind::kVariable:
        if (std::find(vars_.begin(), vars_.end(), t.text) == vars_.end()) {
          return Error(action_pos, "undefined variable \"" + t.text + "\"");
        }
        a.kind = ArgNode::Kind::kVariable;
        a.text = t.text;
        ++ti_;
        break;
      case Token::Kind::kString:
      case Token::Kind::kRawString: {
        auto s = promql::UnquoteString(t.text);
        if (!s) return Error(action_pos, "invalid syntax: " + t.text);
        a.kind = ArgNode::Kind::kString;
        a.text = std::move(*s);
        ++ti_;
        return a;
      }
      case Token::Kind::kChar: {
        auto s = promql::UnquoteString(t.text);
        if (!s || s->empty()) return Error(action_pos, "malformed character constant: " + t.text);
        a.kind = ArgNode::Kind::kNumber;
        a.is_int = true;
        a.int_value = static_cast<unsigned char>((*s)[0]);
        a.number = static_cast<double>(a.int_value);
        a.text = t.text;
        ++ti_;
        return a;
      }
      case Token::Kind::kNumber: {
        a.kind = ArgNode::Kind::kNumber;
        a.text = t.text;
        const bool looks_float = t.text.find_first_of(".eEpP") != std::string::npos &&
                                 t.text.rfind("0x", 0) != 0 && t.text.rfind("0X", 0) != 0;
        auto v = promql::ParseNumber(t.text);
        if (!v) return Error(action_pos, "bad number syntax: \"" + t.text + "\"");
        a.number = *v;
        if (!looks_float && std::floor(*v) == *v && std::fabs(*v) < 9.2e18) {
          a.is_int = true;
          a.int_value = static_cast<int64_t>(*v);
        }
        ++ti_;
        return a;
      }
      case Token::Kind::kLParen: {
        ++ti_;
        auto pipe = ParsePipeline(action_pos, "parenthesized pipeline", false);
        if (!pipe) return core::Unexpected(pipe.error());
        if (toks_[ti_].kind != Token::Kind::kRParen)
          return Error(action_pos, "unclosed left paren");
        ++ti_;
        a.kind = ArgNode::Kind::kPipe;
        a.pipe = std::move(*pipe);
        a.text = "(...)";
        break;
      }
      default:
        return Error(action_pos, "unexpected " + Describe(t) + " in operand");
    }
    // Field chain after the term.
    while (toks_[ti_].kind == Token::Kind::kField &&
           toks_[ti_].pos == toks_[ti_ - 1].pos + static_cast<int>(TokenLength(toks_[ti_ - 1]))) {
      a.fields.push_back(toks_[ti_].text);
      ++ti_;
    }
    return a;
  }

  static size_t TokenLength(const Token& t) {
    return t.kind == Token::Kind::kField ? t.text.size() + 1 : t.text.size();
  }

  static std::string Describe(const Token& t) {
    if (t.kind == Token::Kind::kEof) return "EOF";
    return "\"" + t.text + "\"";
  }

  size_t FindClose(size_t from) const {
    // Skips quoted strings so "}}" inside them does not close the action.
    size_t i = from;
    while (i + 1 < text_.size()) {
      const char c = text_[i];
      if (c == '"' || c == '`' || c == '\'') {
        size_t j = i + 1;
        while (j < text_.size() && text_[j] != c) {
          if (c != '`' && text_[j] == '\\') ++j;
          ++j;
        }
        i = j + 1;
        continue;
      }
      if (c == '}' && text_[i + 1] == '}') return i;
      ++i;
    }
    return std::string_view::npos;
  }

  void SkipSpace() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }

  void AddText(ListNode* list, std::string_view text, int pos) {
    if (text.empty()) return;
    Node n;
    n.kind = Node::Kind::kText;
    n.text = std::string(text);
    n.pos = pos;
    list->nodes.push_back(std::move(n));
  }

  std::string_view name_;
  std::string_view text_;
  size_t pos_ = 0;
  std::vector<Token> toks_;
  size_t ti_ = 0;
  int end_pos_ = 0;
  std::vector<std::string> vars_;
};

// ---- Values ----------------------------------------------------------------

using StringMap = std::map<std::string, std::string>;

struct Value {
  enum class Kind { kNil, kString, kFloat, kInt, kBool, kMap, kData };
  Kind kind = Kind::kNil;
  std::string s;
  double f = 0;
  int64_t i = 0;
  bool b = false;
  std::shared_ptr<const StringMap> m;

  static Value Str(std::string v) {
    Value x;
    x.kind = Kind::kString;
    x.s = std::move(v);
    return x;
  }
  static Value Float(double v) {
    Value x;
    x.kind = Kind::kFloat;
    x.f = v;
    return x;
  }
  static Value Int(int64_t v) {
    Value x;
    x.kind = Kind::kInt;
    x.i = v;
    return x;
  }
  static Value Bool(bool v) {
    Value x;
    x.kind = Kind::kBool;
    x.b = v;
    return x;
  }
  static Value Map(std::shared_ptr<const StringMap> v) {
    Value x;
    x.kind = Kind::kMap;
    x.m = std::move(v);
    return x;
  }
};

const char* GoTypeName(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kNil:
      return "<nil>";
    case Value::Kind::kString:
      return "string";
    case Value::Kind::kFloat:
      return "float64";
    case Value::Kind::kInt:
      return "int";
    case Value::Kind::kBool:
      return "bool";
    case Value::Kind::kMap:
      return "map[string]string";
    case Value::Kind::kData:
      return "template.tmplData";
  }
  return "?";
}

// Go's fmt %v of a value.
std::string GoString(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kNil:
      return "<no value>";
    case Value::Kind::kString:
      return v.s;
    case Value::Kind::kFloat:
      return promql::FormatNumber(v.f);
    case Value::Kind::kInt:
      return std::to_string(v.i);
    case Value::Kind::kBool:
      return v.b ? "true" : "false";
    case Value::Kind::kMap: {
      std::string out = "map[";
      bool first = true;
      for (const auto& [k, val] : *v.m) {
        if (!first) out += " ";
        first = false;
        out += k + ":" + val;
      }
      return out + "]";
    }
    case Value::Kind::kData:
      return "{...}";
  }
  return "";
}

bool Truth(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kNil:
      return false;
    case Value::Kind::kString:
      return !v.s.empty();
    case Value::Kind::kFloat:
      return v.f != 0;
    case Value::Kind::kInt:
      return v.i != 0;
    case Value::Kind::kBool:
      return v.b;
    case Value::Kind::kMap:
      return !v.m->empty();
    case Value::Kind::kData:
      return true;
  }
  return false;
}

// C's %.*g with Go's spellings of infinities and NaN.
std::string FormatG(double v, int prec) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", prec, v);
  return buf;
}

// Prometheus' convertToFloat.
core::Result<double> ToFloat(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kFloat:
      return v.f;
    case Value::Kind::kInt:
      return static_cast<double>(v.i);
    case Value::Kind::kString: {
      auto f = promql::ParseNumber(v.s);
      if (!f)
        return Err("strconv.ParseFloat: parsing " + promql::QuoteString(v.s) + ": invalid syntax");
      return *f;
    }
    default:
      return Err(std::string("can't convert ") + GoTypeName(v) + " to float");
  }
}

}  // namespace

std::string Humanize(double v) {
  if (v == 0 || std::isnan(v) || std::isinf(v)) return FormatG(v, 4);
  static const char* kBig[] = {"k", "M", "G", "T", "P", "E", "Z", "Y"};
  static const char* kSmall[] = {"m", "u", "n", "p", "f", "a", "z", "y"};
  std::string prefix;
  if (std::fabs(v) >= 1) {
    for (const char* p : kBig) {
      if (std::fabs(v) < 1000) break;
      prefix = p;
      v /= 1000;
    }
    return FormatG(v, 4) + prefix;
  }
  for (const char* p : kSmall) {
    if (std::fabs(v) >= 1) break;
    prefix = p;
    v *= 1000;
  }
  return FormatG(v, 4) + prefix;
}

std::string Humanize1024(double v) {
  if (std::fabs(v) <= 1 || std::isnan(v) || std::isinf(v)) return FormatG(v, 4);
  static const char* kPrefixes[] = {"ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"};
  std::string prefix;
  for (const char* p : kPrefixes) {
    if (std::fabs(v) < 1024) break;
    prefix = p;
    v /= 1024;
  }
  return FormatG(v, 4) + prefix;
}

std::string HumanizeDuration(double v) {
  if (std::isnan(v) || std::isinf(v)) return FormatG(v, 4);
  if (v == 0) return FormatG(v, 4) + "s";
  if (std::fabs(v) >= 1) {
    std::string sign;
    if (v < 0) {
      sign = "-";
      v = -v;
    }
    const int64_t d = static_cast<int64_t>(v);
    const int64_t seconds = d % 60, minutes = (d / 60) % 60, hours = (d / 3600) % 24,
                  days = d / 86400;
    auto s = [](int64_t x) { return std::to_string(x); };
    if (days != 0)
      return sign + s(days) + "d " + s(hours) + "h " + s(minutes) + "m " + s(seconds) + "s";
    if (hours != 0) return sign + s(hours) + "h " + s(minutes) + "m " + s(seconds) + "s";
    if (minutes != 0) return sign + s(minutes) + "m " + s(seconds) + "s";
    return sign + FormatG(v, 4) + "s";
  }
  static const char* kSmall[] = {"m", "u", "n", "p", "f", "a", "z", "y"};
  std::string prefix;
  for (const char* p : kSmall) {
    if (std::fabs(v) >= 1) break;
    prefix = p;
    v *= 1000;
  }
  return FormatG(v, 4) + prefix + "s";
}

std::string HumanizePercentage(double ratio) { return FormatG(ratio * 100, 4) + "%"; }

namespace {

// Go's fmt.Sprintf for the verbs templates use: %v %s %d %f %F %e %E %g %G %x
// %X %o %q %t %%, with flags, width and precision.
std::string GoSprintf(std::string_view format, const std::vector<Value>& args) {
  std::string out;
  size_t argi = 0;
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') {
      out.push_back(format[i]);
      continue;
    }
    size_t j = i + 1;
    std::string flags;
    while (j < format.size() &&
           std::string_view("+-# 0").find(format[j]) != std::string_view::npos) {
      flags.push_back(format[j++]);
    }
    std::string width, prec;
    bool has_prec = false;
    while (j < format.size() && std::isdigit(static_cast<unsigned char>(format[j])))
      width.push_back(format[j++]);
    if (j < format.size() && format[j] == '.') {
      has_prec = true;
      ++j;
      while (j < format.size() && std::isdigit(static_cast<unsigned char>(format[j])))
        prec.push_back(format[j++]);
      if (prec.empty()) prec = "0";
    }
    if (j >= format.size()) {
      out += "%!(NOVERB)";
      break;
    }
    const char verb = format[j];
    i = j;
    if (verb == '%') {
      out.push_back('%');
      continue;
    }
    if (argi >= args.size()) {
      out += std::string("%!") + verb + "(MISSING)";
      continue;
    }
    const Value& a = args[argi++];
    const std::string spec = "%" + flags + width + (has_prec ? "." + prec : "");
    char buf[512];
    auto bad = [&] {
      out += std::string("%!") + verb + "(" + GoTypeName(a) + "=" + GoString(a) + ")";
    };
    auto pad = [&](std::string s) {
      const size_t w = width.empty() ? 0 : std::stoul(width);
      if (s.size() < w) {
        if (flags.find('-') != std::string::npos) {
          s.append(w - s.size(), ' ');
        } else {
          s.insert(0, w - s.size(), ' ');
        }
      }
      out += s;
    };
    switch (verb) {
      case 'v':
      case 's':
        if (verb == 's' && a.kind != Value::Kind::kString && a.kind != Value::Kind::kMap &&
            a.kind != Value::Kind::kNil) {
          if (a.kind == Value::Kind::kBool) {
            bad();
            break;
          }
          bad();
          break;
        }
        if (a.kind == Value::Kind::kFloat && has_prec) {
          pad(FormatG(a.f, std::stoi(prec)));
          break;
        }
        pad(has_prec && a.kind == Value::Kind::kString ? GoString(a).substr(0, std::stoul(prec))
                                                       : GoString(a));
        break;
      case 'q':
        if (a.kind != Value::Kind::kString) {
          bad();
          break;
        }
        pad(promql::QuoteString(a.s));
        break;
      case 't':
        if (a.kind != Value::Kind::kBool) {
          bad();
          break;
        }
        pad(a.b ? "true" : "false");
        break;
      case 'd':
      case 'x':
      case 'X':
      case 'o':
        if (a.kind != Value::Kind::kInt) {
          bad();
          break;
        }
        std::snprintf(buf, sizeof buf, (spec + "ll" + verb).c_str(), static_cast<long long>(a.i));
        out += buf;
        break;
      case 'f':
      case 'F':
      case 'e':
      case 'E':
      case 'g':
      case 'G': {
        if (a.kind != Value::Kind::kFloat) {
          bad();
          break;
        }
        if (std::isnan(a.f) || std::isinf(a.f)) {
          pad(std::isnan(a.f)
                  ? "NaN"
                  : (a.f > 0 ? (flags.find('+') != std::string::npos ? "+Inf" : "+Inf") : "-Inf"));
          break;
        }
        if ((verb == 'g' || verb == 'G') && !has_prec) {
          std::string s = promql::FormatNumber(a.f);
          if (verb == 'G') {
            for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
          }
          pad(s);
          break;
        }
        std::snprintf(buf, sizeof buf, (spec + verb).c_str(), a.f);
        out += buf;
        break;
      }
      default:
        bad();
    }
  }
  if (argi < args.size()) {
    out += "%!(EXTRA ";
    for (size_t k = argi; k < args.size(); ++k) {
      if (k > argi) out += ", ";
      out += std::string(GoTypeName(args[k])) + "=" + GoString(args[k]);
    }
    out += ")";
  }
  return out;
}

// Go's fmt.Sprint: spaces between operands when neither is a string.
std::string GoSprint(const std::vector<Value>& args) {
  std::string out;
  for (size_t k = 0; k < args.size(); ++k) {
    if (k > 0 && args[k].kind != Value::Kind::kString && args[k - 1].kind != Value::Kind::kString)
      out += " ";
    out += GoString(args[k]);
  }
  return out;
}

std::string HtmlEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      case '\0':
        out += "\uFFFD";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string UrlQueryEscape(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else if (c == ' ') {
      out.push_back('+');
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

// Go's basic-kind comparison for eq/ne/lt/le/gt/ge.
core::Result<int> Compare(const Value& a, const Value& b, bool ordered) {
  auto incompatible = [] { return Err("incompatible types for comparison"); };
  if (a.kind != b.kind) return incompatible();
  switch (a.kind) {
    case Value::Kind::kString:
      return a.s < b.s ? -1 : (a.s > b.s ? 1 : 0);
    case Value::Kind::kFloat:
      return a.f < b.f ? -1 : (a.f > b.f ? 1 : (a.f == b.f ? 0 : 2));
    case Value::Kind::kInt:
      return a.i < b.i ? -1 : (a.i > b.i ? 1 : 0);
    case Value::Kind::kBool:
      if (ordered) return Err("invalid type for comparison");
      return a.b == b.b ? 0 : 1;
    default:
      return Err(ordered ? "invalid type for comparison" : "non-comparable types");
  }
}

class Executor {
 public:
  Executor(std::string_view name, const TemplateData& data) : name_(name) {
    auto to_map = [](const core::Labels& labels) {
      auto m = std::make_shared<StringMap>();
      for (const auto& l : labels.items()) (*m)[l.name] = l.value;
      return m;
    };
    labels_ = Value::Map(to_map(data.labels));
    external_labels_ = Value::Map(to_map(data.external_labels));
    external_url_ = Value::Str(data.external_url);
    value_ = Value::Float(data.value);
    Value root;
    root.kind = Value::Kind::kData;
    vars_ = {{"$", root},
             {"$labels", labels_},
             {"$externalLabels", external_labels_},
             {"$externalURL", external_url_},
             {"$value", value_}};
    dot_ = root;
  }

  core::Status Run(const ListNode& list, std::string* out) {
    for (const Node& n : list.nodes) {
      switch (n.kind) {
        case Node::Kind::kText:
          *out += n.text;
          break;
        case Node::Kind::kAction: {
          auto v = EvalPipe(*n.pipe);
          if (!v) return core::Unexpected(v.error());
          if (n.pipe->decl.empty()) *out += GoString(*v);
          break;
        }
        case Node::Kind::kIf:
        case Node::Kind::kWith: {
          const size_t mark = vars_.size();
          auto v = EvalPipe(*n.pipe);
          if (!v) return core::Unexpected(v.error());
          core::Status st;
          if (Truth(*v)) {
            Value saved = dot_;
            if (n.kind == Node::Kind::kWith) dot_ = *v;
            st = Run(*n.list, out);
            dot_ = saved;
          } else if (n.else_list) {
            st = Run(*n.else_list, out);
          }
          vars_.resize(mark);
          if (!st) return st;
          break;
        }
        case Node::Kind::kRange: {
          const size_t mark = vars_.size();
          PipeNode pipe = *n.pipe;
          std::vector<std::string> decl = pipe.decl;
          pipe.decl.clear();
          auto v = EvalPipe(pipe);
          if (!v) return core::Unexpected(v.error());
          if (v->kind != Value::Kind::kMap && v->kind != Value::Kind::kNil) {
            return ExecError(n.pos, "range can't iterate over " + GoString(*v));
          }
          bool any = false;
          if (v->kind == Value::Kind::kMap) {
            for (const auto& [k, val] : *v->m) {
              any = true;
              vars_.resize(mark);
              if (decl.size() == 1) vars_.push_back({decl[0], Value::Str(val)});
              if (decl.size() == 2) {
                vars_.push_back({decl[0], Value::Str(k)});
                vars_.push_back({decl[1], Value::Str(val)});
              }
              Value saved = dot_;
              dot_ = Value::Str(val);
              auto st = Run(*n.list, out);
              dot_ = saved;
              if (!st) return st;
            }
          }
          vars_.resize(mark);
          if (!any && n.else_list) {
            if (auto st = Run(*n.else_list, out); !st) return st;
          }
          break;
        }
      }
    }
    return {};
  }

 private:
  core::Unexpected<core::Error> ExecError(int pos, const std::string& msg) const {
    return Err("template: " + std::string(name_) +
               ":1:" + std::to_string(pos + kPrometheusDefsLength) + ": executing \"" +
               std::string(name_) + "\" " + msg);
  }

  core::Result<Value> EvalPipe(const PipeNode& pipe) {
    std::optional<Value> piped;
    for (const CommandNode& cmd : pipe.cmds) {
      auto v = EvalCommand(cmd, piped);
      if (!v) return v;
      piped = std::move(*v);
    }
    Value result = piped.value_or(Value{});
    if (!pipe.decl.empty()) {
      if (pipe.assign) {
        for (auto it = vars_.rbegin(); it != vars_.rend(); ++it) {
          if (it->first == pipe.decl[0]) {
            it->second = result;
            break;
          }
        }
      } else {
        vars_.push_back({pipe.decl[0], result});
      }
    }
    return result;
  }

  core::Result<Value> Field(Value v, const std::vector<std::string>& fields,
                            const CommandNode& cmd) {
    for (const std::string& f : fields) {
      if (v.kind == Value::Kind::kMap) {
        auto it = v.m->find(f);
        v = Value::Str(it == v.m->end() ? "" : it->second);
      } else if (v.kind == Value::Kind::kData) {
        if (f == "Labels") {
          v = labels_;
        } else if (f == "ExternalLabels") {
          v = external_labels_;
        } else if (f == "ExternalURL") {
          v = external_url_;
        } else if (f == "Value") {
          v = value_;
        } else {
          return ExecError(
              cmd.pos, "at <." + f + ">: can't evaluate field " + f + " in type template.tmplData");
        }
      } else if (v.kind == Value::Kind::kNil) {
        return ExecError(cmd.pos, "at <." + f + ">: nil pointer evaluating interface {}." + f);
      } else {
        return ExecError(
            cmd.pos, "at <." + f + ">: can't evaluate field " + f + " in type " + GoTypeName(v));
      }
    }
    return v;
  }

  core::Result<Value> EvalArg(const ArgNode& a, const CommandNode& cmd) {
    Value v;
    switch (a.kind) {
      case ArgNode::Kind::kDot:
        v = dot_;
        break;
      case ArgNode::Kind::kField:
        return Field(dot_, a.fields, cmd);
      case ArgNode::Kind::kVariable: {
        bool found = false;
        for (auto it = vars_.rbegin(); it != vars_.rend(); ++it) {
          if (it->first == a.text) {
            v = it->second;
            found = true;
            break;
          }
        }
        if (!found) return ExecError(cmd.pos, "undefined variable: " + a.text);
        break;
      }
      case ArgNode::Kind::kString:
        return Value::Str(a.text);
      case ArgNode::Kind::kNumber:
        return a.is_int ? Value::Int(a.int_value) : Value::Float(a.number);
      case ArgNode::Kind::kBool:
        return Value::Bool(a.bool_value);
      case ArgNode::Kind::kNil:
        return Value{};
      case ArgNode::Kind::kPipe: {
        auto p = EvalPipe(*a.pipe);
        if (!p) return p;
        v = std::move(*p);
        break;
      }
      case ArgNode::Kind::kIdent: {
        CommandNode call;
        call.args = {a};
        call.source = a.text;
        call.pos = cmd.pos;
        auto r = EvalCommand(call, std::nullopt);
        if (!r) return r;
        v = std::move(*r);
        break;
      }
    }
    if (a.fields.empty()) return v;
    return Field(std::move(v), a.fields, cmd);
  }

  core::Result<Value> EvalCommand(const CommandNode& cmd, const std::optional<Value>& piped) {
    const ArgNode& first = cmd.args[0];
    if (first.kind != ArgNode::Kind::kIdent) {
      if (piped)
        return ExecError(
            cmd.pos, "at <" + cmd.source + ">: can't give argument to non-function " + cmd.source);
      return EvalArg(first, cmd);
    }
    const std::string& fn = first.text;
    // and/or evaluate lazily.
    if (fn == "and" || fn == "or") {
      if (cmd.args.size() + (piped ? 1 : 0) < 2) {
        return ExecError(
            cmd.pos, "at <" + fn + ">: wrong number of args for " + fn + ": want at least 1 got 0");
      }
      Value last;
      for (size_t k = 1; k <= cmd.args.size(); ++k) {
        if (k == cmd.args.size()) {
          if (!piped) break;
          last = *piped;
        } else {
          auto v = EvalArg(cmd.args[k], cmd);
          if (!v) return v;
          last = std::move(*v);
        }
        if ((fn == "and") != Truth(last)) return last;
      }
      return last;
    }
    std::vector<Value> args;
    for (size_t k = 1; k < cmd.args.size(); ++k) {
      auto v = EvalArg(cmd.args[k], cmd);
      if (!v) return v;
      args.push_back(std::move(*v));
    }
    if (piped) args.push_back(*piped);
    auto r = Call(fn, args);
    if (!r) {
      return ExecError(cmd.pos,
                       "at <" + cmd.source + ">: error calling " + fn + ": " + r.error().message);
    }
    return r;
  }

  core::Result<Value> Call(const std::string& fn, const std::vector<Value>& args) {
    auto want = [&](size_t n) -> core::Status {
      if (args.size() != n) {
        return Err("wrong number of args for " + fn + ": want " + std::to_string(n) + " got " +
                   std::to_string(args.size()));
      }
      return {};
    };
    auto float_fn = [&](std::string (*f)(double)) -> core::Result<Value> {
      if (auto st = want(1); !st) return core::Unexpected(st.error());
      auto v = ToFloat(args[0]);
      if (!v) return core::Unexpected(v.error());
      return Value::Str(f(*v));
    };
    if (fn == "humanize") return float_fn(&Humanize);
    if (fn == "humanize1024") return float_fn(&Humanize1024);
    if (fn == "humanizeDuration") return float_fn(&HumanizeDuration);
    if (fn == "humanizePercentage") return float_fn(&HumanizePercentage);
    if (fn == "humanizeTimestamp") {
      if (auto st = want(1); !st) return core::Unexpected(st.error());
      auto v = ToFloat(args[0]);
      if (!v) return core::Unexpected(v.error());
      if (std::isnan(*v) || std::isinf(*v)) return Value::Str(FormatG(*v, 4));
      // Prometheus keeps millisecond precision (model.TimeFromUnixNano).
      const double ns = *v * 1e9;
      if (ns > 9.2e18 || ns < -9.2e18)
        return Err(promql::FormatNumber(*v) +
                   " cannot be represented as a nanoseconds timestamp since it overflows int64");
      const int64_t ms = static_cast<int64_t>(ns) / 1'000'000;
      const int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
      const int64_t frac_ms = ms - secs * 1000;
      const time_t t = static_cast<time_t>(secs);
      std::tm tm{};
      gmtime_r(&t, &tm);
      char buf[64];
      std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
      std::string s = buf;
      if (frac_ms > 0) {
        char frac[16];
        std::snprintf(frac, sizeof frac, ".%03d", static_cast<int>(frac_ms));
        std::string f = frac;
        while (f.back() == '0') f.pop_back();
        s += f;
      }
      return Value::Str(s + " +0000 UTC");
    }
    if (fn == "printf") {
      if (args.empty() || args[0].kind != Value::Kind::kString) {
        return Err("wrong type for value; expected string; got " +
                   std::string(args.empty() ? "nothing" : GoTypeName(args[0])));
      }
      return Value::Str(GoSprintf(args[0].s, std::vector<Value>(args.begin() + 1, args.end())));
    }
    if (fn == "print") return Value::Str(GoSprint(args));
    if (fn == "println") {
      std::string out;
      for (size_t k = 0; k < args.size(); ++k) out += (k ? " " : "") + GoString(args[k]);
      return Value::Str(out + "\n");
    }
    auto string_fn = [&](auto f) -> core::Result<Value> {
      if (auto st = want(1); !st) return core::Unexpected(st.error());
      if (args[0].kind != Value::Kind::kString) {
        return Err("wrong type for value; expected string; got " +
                   std::string(GoTypeName(args[0])));
      }
      return Value::Str(f(args[0].s));
    };
    if (fn == "toUpper" || fn == "toLower") {
      const bool upper = fn == "toUpper";
      return string_fn([upper](std::string s) {
        for (char& c : s)
          c = static_cast<char>(upper ? std::toupper(static_cast<unsigned char>(c))
                                      : std::tolower(static_cast<unsigned char>(c)));
        return s;
      });
    }
    if (fn == "title") {
      return string_fn([](std::string s) {
        bool start = true;
        for (char& c : s) {
          const unsigned char u = static_cast<unsigned char>(c);
          if (start && std::isalpha(u)) c = static_cast<char>(std::toupper(u));
          start = !(std::isalnum(u) || u == '_' || u == '\'' || u >= 0x80);
        }
        return s;
      });
    }
    if (fn == "safeHtml") return string_fn([](std::string s) { return s; });
    if (fn == "stripPort") {
      return string_fn([](std::string s) {
        if (!s.empty() && s[0] == '[') {
          size_t e = s.find(']');
          return e == std::string::npos ? s : s.substr(1, e - 1);
        }
        size_t c = s.rfind(':');
        if (c == std::string::npos || s.find(':') != c) return s;
        return s.substr(0, c);
      });
    }
    if (fn == "html" || fn == "js" || fn == "urlquery") {
      std::string s = GoSprint(args);
      if (fn == "html") return Value::Str(HtmlEscape(s));
      if (fn == "urlquery") return Value::Str(UrlQueryEscape(s));
      std::string out;
      for (char c : s) {
        if (c == '\\' || c == '\'' || c == '"') out.push_back('\\');
        if (c == '<') {
          out += "\\u003C";
        } else if (c == '>') {
          out += "\\u003E";
        } else {
          out.push_back(c);
        }
      }
      return Value::Str(out);
    }
    if (fn == "match" || fn == "reReplaceAll") {
      if (auto st = want(fn == "match" ? 2 : 3); !st) return core::Unexpected(st.error());
      for (const Value& a : args) {
        if (a.kind != Value::Kind::kString)
          return Err("wrong type for value; expected string; got " + std::string(GoTypeName(a)));
      }
      RE2 re(args[0].s, RE2::Quiet);
      if (!re.ok()) return Err("error parsing regexp: " + re.error());
      if (fn == "match") return Value::Bool(RE2::PartialMatch(args[1].s, re));
      // Go's $1 / ${1} expansion maps onto RE2's \1.
      std::string rewrite;
      const std::string& tpl = args[1].s;
      for (size_t k = 0; k < tpl.size(); ++k) {
        if (tpl[k] == '\\') {
          rewrite += "\\\\";
        } else if (tpl[k] == '$' && k + 1 < tpl.size() &&
                   std::isdigit(static_cast<unsigned char>(tpl[k + 1]))) {
          rewrite += "\\";
          rewrite.push_back(tpl[++k]);
        } else if (tpl[k] == '$' && k + 2 < tpl.size() && tpl[k + 1] == '{' &&
                   std::isdigit(static_cast<unsigned char>(tpl[k + 2]))) {
          size_t e = tpl.find('}', k);
          if (e == std::string::npos) {
            rewrite.push_back('$');
            continue;
          }
          rewrite += "\\" + tpl.substr(k + 2, e - k - 2);
          k = e;
        } else {
          rewrite.push_back(tpl[k]);
        }
      }
      std::string s = args[2].s;
      RE2::GlobalReplace(&s, re, rewrite);
      return Value::Str(s);
    }
    if (fn == "parseDuration") {
      if (auto st = want(1); !st) return core::Unexpected(st.error());
      if (args[0].kind != Value::Kind::kString) return Err("wrong type for value; expected string");
      auto d = promql::ParseDuration(args[0].s);
      if (!d) return Err(d.error().message);
      return Value::Float(static_cast<double>(*d) / 1000.0);
    }
    if (fn == "not") {
      if (auto st = want(1); !st) return core::Unexpected(st.error());
      return Value::Bool(!Truth(args[0]));
    }
    if (fn == "len") {
      if (auto st = want(1); !st) return core::Unexpected(st.error());
      if (args[0].kind == Value::Kind::kString)
        return Value::Int(static_cast<int64_t>(args[0].s.size()));
      if (args[0].kind == Value::Kind::kMap)
        return Value::Int(static_cast<int64_t>(args[0].m->size()));
      return Err(std::string("len of type ") + GoTypeName(args[0]));
    }
    if (fn == "index") {
      if (args.empty()) return Err("wrong number of args for index: want at least 1 got 0");
      Value v = args[0];
      for (size_t k = 1; k < args.size(); ++k) {
        if (v.kind != Value::Kind::kMap || args[k].kind != Value::Kind::kString) {
          return Err(std::string("can't index item of type ") + GoTypeName(v));
        }
        auto it = v.m->find(args[k].s);
        v = Value::Str(it == v.m->end() ? "" : it->second);
      }
      return v;
    }
    if (fn == "eq" || fn == "ne" || fn == "lt" || fn == "le" || fn == "gt" || fn == "ge") {
      if (fn == "eq") {
        if (args.size() < 2) return Err("missing argument for comparison");
        for (size_t k = 1; k < args.size(); ++k) {
          auto c = Compare(args[0], args[k], false);
          if (!c) return core::Unexpected(c.error());
          if (*c == 0) return Value::Bool(true);
        }
        return Value::Bool(false);
      }
      if (auto st = want(2); !st) return core::Unexpected(st.error());
      auto c = Compare(args[0], args[1], fn != "ne");
      if (!c) return core::Unexpected(c.error());
      if (fn == "ne") return Value::Bool(*c != 0);
      if (*c == 2) return Value::Bool(false);  // NaN
      if (fn == "lt") return Value::Bool(*c < 0);
      if (fn == "le") return Value::Bool(*c <= 0);
      if (fn == "gt") return Value::Bool(*c > 0);
      return Value::Bool(*c >= 0);
    }
    return Err("function \"" + fn +
               "\" is not supported by tally's templates (no queries at render time)");
  }

  std::string_view name_;
  Value labels_, external_labels_, external_url_, value_;
  std::vector<std::pair<std::string, Value>> vars_;
  Value dot_;
};

}  // namespace

core::Result<Template> Template::Parse(std::string_view name, std::string_view text) {
  Parser parser(name, text);
  auto root = parser.Run();
  if (!root) return core::Unexpected(root.error());
  Template t;
  t.name_ = std::string(name);
  t.root_ = std::move(*root);
  return t;
}

core::Result<std::string> Template::Execute(const TemplateData& data) const {
  std::string out;
  Executor exec(name_, data);
  if (auto st = exec.Run(*root_, &out); !st) return core::Unexpected(st.error());
  return out;
}

std::string Template::Expand(std::string_view name, std::string_view text,
                             const TemplateData& data) {
  auto t = Parse(name, text);
  if (!t) return "<error expanding template: " + t.error().message + ">";
  auto out = t->Execute(data);
  if (!out) return "<error expanding template: " + out.error().message + ">";
  return *out;
}

}  // namespace rules
