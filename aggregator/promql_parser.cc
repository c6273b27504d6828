#include "aggregator/promql_parser.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>
#include <utility>

#include "aggregator/promql_functions.h"
#include "aggregator/promql_lexer.h"
#include "aggregator/promql_text.h"

namespace promql {

namespace {

// Keeps cold code (message building, sub-parsers) out of the frames of the
// recursive descent, so that kMaxNesting levels fit in the stack even with
// AddressSanitizer's red zones.
#define PROMQL_NOINLINE __attribute__((noinline))

// Binding power of binary operators; higher binds tighter. `^` is right-associative.
int Precedence(TokenType t) {
  switch (t) {
    case TokenType::kLor:
      return 1;
    case TokenType::kLand:
    case TokenType::kLunless:
      return 2;
    case TokenType::kEqlc:
    case TokenType::kNeq:
    case TokenType::kLss:
    case TokenType::kLte:
    case TokenType::kGtr:
    case TokenType::kGte:
      return 3;
    case TokenType::kAdd:
    case TokenType::kSub:
      return 4;
    case TokenType::kMul:
    case TokenType::kDiv:
    case TokenType::kMod:
    case TokenType::kAtan2:
      return 5;
    case TokenType::kPow:
      return 6;
    default:
      return 0;
  }
}
constexpr int kPowPrecedence = 6;

BinaryOp ToBinaryOp(TokenType t) {
  switch (t) {
    case TokenType::kAdd:
      return BinaryOp::kAdd;
    case TokenType::kSub:
      return BinaryOp::kSub;
    case TokenType::kMul:
      return BinaryOp::kMul;
    case TokenType::kDiv:
      return BinaryOp::kDiv;
    case TokenType::kMod:
      return BinaryOp::kMod;
    case TokenType::kPow:
      return BinaryOp::kPow;
    case TokenType::kAtan2:
      return BinaryOp::kAtan2;
    case TokenType::kEqlc:
      return BinaryOp::kEql;
    case TokenType::kNeq:
      return BinaryOp::kNeq;
    case TokenType::kGtr:
      return BinaryOp::kGtr;
    case TokenType::kLss:
      return BinaryOp::kLss;
    case TokenType::kGte:
      return BinaryOp::kGte;
    case TokenType::kLte:
      return BinaryOp::kLte;
    case TokenType::kLand:
      return BinaryOp::kAnd;
    case TokenType::kLor:
      return BinaryOp::kOr;
    default:
      return BinaryOp::kUnless;
  }
}

AggregateOp ToAggregateOp(TokenType t) {
  switch (t) {
    case TokenType::kSum:
      return AggregateOp::kSum;
    case TokenType::kAvg:
      return AggregateOp::kAvg;
    case TokenType::kCount:
      return AggregateOp::kCount;
    case TokenType::kMin:
      return AggregateOp::kMin;
    case TokenType::kMax:
      return AggregateOp::kMax;
    case TokenType::kGroup:
      return AggregateOp::kGroup;
    case TokenType::kStddev:
      return AggregateOp::kStddev;
    case TokenType::kStdvar:
      return AggregateOp::kStdvar;
    case TokenType::kTopk:
      return AggregateOp::kTopk;
    case TokenType::kBottomk:
      return AggregateOp::kBottomk;
    case TokenType::kCountValues:
      return AggregateOp::kCountValues;
    default:
      return AggregateOp::kQuantile;
  }
}

// Keywords that Prometheus' grammar also accepts as a metric name (metric_identifier).
bool IsKeywordMetricName(TokenType t) {
  switch (t) {
    case TokenType::kBy:
    case TokenType::kWithout:
    case TokenType::kOffset:
    case TokenType::kLand:
    case TokenType::kLor:
    case TokenType::kLunless:
    case TokenType::kStart:
    case TokenType::kEnd:
      return true;
    default:
      return IsAggregatorToken(t);
  }
}

// Tokens that may name a label inside grouping parentheses (maybe_label).
bool IsMaybeLabel(TokenType t) {
  switch (t) {
    case TokenType::kIdentifier:
    case TokenType::kMetricIdentifier:
    case TokenType::kBool:
    case TokenType::kBy:
    case TokenType::kGroupLeft:
    case TokenType::kGroupRight:
    case TokenType::kIgnoring:
    case TokenType::kLand:
    case TokenType::kLor:
    case TokenType::kLunless:
    case TokenType::kOffset:
    case TokenType::kOn:
    case TokenType::kStart:
    case TokenType::kEnd:
    case TokenType::kAtan2:
      return true;
    default:
      return IsAggregatorToken(t);
  }
}

// Tokens that can begin an expression (FIRST(expr) in Prometheus' grammar).
bool CanStartExpr(TokenType t) {
  switch (t) {
    case TokenType::kNumber:
    case TokenType::kString:
    case TokenType::kLeftParen:
    case TokenType::kLeftBrace:
    case TokenType::kIdentifier:
    case TokenType::kMetricIdentifier:
    case TokenType::kAdd:
    case TokenType::kSub:
      return true;
    default:
      return IsKeywordMetricName(t);
  }
}

bool IsValidLabelName(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool alpha = c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

bool IsSpaceByte(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Go's %f, with Go's spelling of the special values.
std::string FormatGoF(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[512];
  std::snprintf(buf, sizeof(buf), "%f", v);
  return buf;
}

// Prometheus' timestamp.FromFloatSeconds; out-of-range values become INT64_MIN
// as Go's float-to-int conversion does on amd64.
int64_t FromFloatSeconds(double ts) {
  const double ms = std::round(ts * 1000.0);
  if (!(ms >= -9223372036854775808.0 && ms < 9223372036854775808.0)) {
    return std::numeric_limits<int64_t>::min();
  }
  return static_cast<int64_t>(ms);
}

class Parser {
 public:
  explicit Parser(std::string_view input) : input_(input), lex_(input) {}

  ExprPtr Run();
  std::optional<ParseError>& error() { return error_; }

 private:
  // Scope guards for the recursion limit and the "in aggregation" error context.
  struct DepthGuard {
    explicit DepthGuard(int* d) : depth(d) { ++*depth; }
    ~DepthGuard() { --*depth; }
    int* depth;
  };

  const Token& Peek();
  Token Take();
  bool Failed() const { return error_.has_value(); }
  PROMQL_NOINLINE void Fail(int start, int end, std::string message);
  void FailAt(const Expr& e, std::string message) {
    Fail(e.pos.start, e.pos.end, std::move(message));
  }
  // "unexpected <token>[ in <context>][, expected <expected>]" about `t`.
  PROMQL_NOINLINE void UnexpectedToken(const Token& t, std::string_view context,
                                       std::string_view expected);
  void Unexpected(std::string_view context, std::string_view expected) {
    UnexpectedToken(Peek(), context, expected);
  }
  // A syntax error without a more specific rule: Prometheus names the
  // enclosing aggregation, if any.
  void UnexpectedHere() { Unexpected(aggregation_depth_ > 0 ? "aggregation" : "", ""); }
  PROMQL_NOINLINE bool SetHeight(Expr& e, std::initializer_list<const Expr*> children);
  PROMQL_NOINLINE bool CheckNesting(int height, int pos);

  ExprPtr ParseExpr(int min_precedence);
  ExprPtr ParseUnary();
  PROMQL_NOINLINE bool ParseBinaryModifiers(BinaryExpr* bin);
  PROMQL_NOINLINE ExprPtr ParseNumberLiteral();
  PROMQL_NOINLINE ExprPtr ParseStringLiteral();
  ExprPtr ParsePrimary();
  PROMQL_NOINLINE ExprPtr ParsePostfix(ExprPtr e);
  PROMQL_NOINLINE ExprPtr ParseVectorSelector(const Token* name);
  PROMQL_NOINLINE bool ParseLabelMatchers(VectorSelector* vs);
  PROMQL_NOINLINE ExprPtr ParseCall(const Token& name);
  bool ParseArgs(std::vector<ExprPtr>* args);
  PROMQL_NOINLINE ExprPtr ParseAggregate(const Token& op);
  PROMQL_NOINLINE bool ParseGroupingLabels(std::vector<std::string>* labels);
  PROMQL_NOINLINE ExprPtr ParseRange(ExprPtr e);
  PROMQL_NOINLINE ExprPtr ParseOffset(ExprPtr e);
  PROMQL_NOINLINE ExprPtr ParseAt(ExprPtr e);
  PROMQL_NOINLINE bool ParseDurationToken(const Token& t, int64_t* ms);

  // Type checking after a successful parse (Prometheus' checkAST).
  ValueType Check(Expr& e);
  PROMQL_NOINLINE void ExpectType(Expr& e, ValueType want, std::string_view context);
  PROMQL_NOINLINE void CheckBinary(BinaryExpr& b);
  PROMQL_NOINLINE void CheckCall(Call& c);
  PROMQL_NOINLINE void CheckSubquery(SubqueryExpr& s);
  PROMQL_NOINLINE void CheckUnary(UnaryExpr& u);
  PROMQL_NOINLINE void CheckAggregate(AggregateExpr& agg);
  PROMQL_NOINLINE void CheckVectorSelector(const VectorSelector& vs);

  std::string_view input_;
  Lexer lex_;
  Token peek_;
  bool has_peek_ = false;
  int last_end_ = 0;  // end offset of the last token taken
  int depth_ = 0;
  int aggregation_depth_ = 0;
  std::optional<ParseError> error_;
};

const Token& Parser::Peek() {
  if (!has_peek_) {
    peek_ = lex_.Next();
    has_peek_ = true;
    if (peek_.type == TokenType::kError) {
      Fail(peek_.pos, static_cast<int>(input_.size()), peek_.message);
    }
  }
  return peek_;
}

Token Parser::Take() {
  Peek();
  has_peek_ = false;
  last_end_ = peek_.pos + static_cast<int>(peek_.text.size());
  return peek_;
}

void Parser::Fail(int start, int end, std::string message) {
  if (error_) return;  // the first error wins
  ParseError e;
  e.message = std::move(message);
  e.start = start;
  e.end = std::max(start, end);
  int line = 1;
  int last_break = -1;
  const int limit = std::min<int>(start, static_cast<int>(input_.size()));
  for (int i = 0; i < limit; ++i) {
    if (input_[static_cast<size_t>(i)] == '\n') {
      ++line;
      last_break = i;
    }
  }
  e.line = line;
  e.column = start - last_break;
  error_ = std::move(e);
}

void Parser::UnexpectedToken(const Token& t, std::string_view context, std::string_view expected) {
  if (t.type == TokenType::kError) return;  // the lexer's error is already recorded
  std::string msg = "unexpected " + TokenDescription(t);
  if (!context.empty()) {
    msg += " in ";
    msg += context;
  }
  if (!expected.empty()) {
    msg += ", expected ";
    msg += expected;
  }
  Fail(t.pos, t.pos + static_cast<int>(t.text.size()), std::move(msg));
}

bool Parser::CheckNesting(int height, int pos) {
  if (height <= kMaxNesting) return true;
  Fail(pos, pos, "query is nested too deeply (limit " + std::to_string(kMaxNesting) + ")");
  return false;
}

bool Parser::SetHeight(Expr& e, std::initializer_list<const Expr*> children) {
  int h = 0;
  for (const Expr* c : children) {
    if (c != nullptr) h = std::max(h, c->height);
  }
  e.height = h + 1;
  return CheckNesting(e.height, e.pos.start);
}

ExprPtr Parser::Run() {
  if (Peek().type == TokenType::kEof) {
    Fail(0, 0, "no expression found in input");
    return nullptr;
  }
  ExprPtr e = ParseExpr(0);
  if (Failed() || e == nullptr) return nullptr;
  if (Peek().type != TokenType::kEof) {
    UnexpectedHere();
    return nullptr;
  }
  Check(*e);
  if (Failed()) return nullptr;
  return e;
}

ExprPtr Parser::ParseExpr(int min_precedence) {
  DepthGuard guard(&depth_);
  if (!CheckNesting(depth_, Peek().pos)) return nullptr;
  ExprPtr lhs = ParseUnary();
  while (lhs != nullptr && !Failed()) {
    const int prec = Precedence(Peek().type);
    if (prec == 0 || prec < min_precedence) break;
    const TokenType op = Take().type;
    auto bin = std::make_unique<BinaryExpr>();
    bin->op = ToBinaryOp(op);
    if (!ParseBinaryModifiers(bin.get())) return nullptr;
    ExprPtr rhs = ParseExpr(op == TokenType::kPow ? prec : prec + 1);
    if (rhs == nullptr) return nullptr;
    bin->pos = {lhs->pos.start, rhs->pos.end};
    bin->lhs = std::move(lhs);
    bin->rhs = std::move(rhs);
    if (!SetHeight(*bin, {bin->lhs.get(), bin->rhs.get()})) return nullptr;
    lhs = std::move(bin);
  }
  if (Failed()) return nullptr;
  return lhs;
}

bool Parser::ParseBinaryModifiers(BinaryExpr* bin) {
  VectorMatching matching;
  if (Peek().type == TokenType::kBool) {
    Take();
    bin->return_bool = true;
  }
  if (Peek().type == TokenType::kOn || Peek().type == TokenType::kIgnoring) {
    matching.on = Take().type == TokenType::kOn;
    if (!ParseGroupingLabels(&matching.labels)) return false;
    if (Peek().type == TokenType::kGroupLeft || Peek().type == TokenType::kGroupRight) {
      matching.card =
          Take().type == TokenType::kGroupLeft ? Cardinality::kManyToOne : Cardinality::kOneToMany;
      // The label list is optional: it is skipped only when an expression
      // (other than a parenthesized one) follows.
      const TokenType next = Peek().type;
      if ((next == TokenType::kLeftParen || !CanStartExpr(next)) &&
          !ParseGroupingLabels(&matching.include)) {
        return false;
      }
    }
  }
  bin->matching = std::move(matching);
  return true;
}

ExprPtr Parser::ParseUnary() {
  const TokenType t = Peek().type;
  if (t != TokenType::kAdd && t != TokenType::kSub) {
    ExprPtr e = ParsePrimary();
    if (e == nullptr) return nullptr;
    return ParsePostfix(std::move(e));
  }
  const Token op = Take();
  // The operand binds like `*`: only `^` and the postfix modifiers bind tighter.
  ExprPtr operand = ParseExpr(kPowPrecedence);
  if (operand == nullptr) return nullptr;
  if (operand->kind == ExprKind::kNumberLiteral) {
    auto& n = As<NumberLiteral>(*operand);
    if (op.type == TokenType::kSub) n.value = -n.value;
    n.pos.start = op.pos;
    return operand;
  }
  auto u = std::make_unique<UnaryExpr>();
  u->op = op.type == TokenType::kSub ? UnaryOp::kMinus : UnaryOp::kPlus;
  u->pos = {op.pos, operand->pos.end};
  u->expr = std::move(operand);
  if (!SetHeight(*u, {u->expr.get()})) return nullptr;
  return u;
}

ExprPtr Parser::ParseNumberLiteral() {
  const Token tok = Take();
  auto v = ParseNumber(tok.text);
  if (!v) {
    Fail(tok.pos, last_end_, "error parsing number: " + v.error().message);
    return nullptr;
  }
  auto n = std::make_unique<NumberLiteral>();
  n->value = *v;
  n->pos = {tok.pos, last_end_};
  return n;
}

ExprPtr Parser::ParseStringLiteral() {
  const Token tok = Take();
  auto v = UnquoteString(tok.text);
  if (!v) {
    Fail(tok.pos, last_end_,
         "error unquoting string " + QuoteString(tok.text) + ": " + v.error().message);
    return nullptr;
  }
  auto s = std::make_unique<StringLiteral>();
  s->value = std::move(*v);
  s->pos = {tok.pos, last_end_};
  return s;
}

ExprPtr Parser::ParsePrimary() {
  const Token& t = Peek();
  switch (t.type) {
    case TokenType::kNumber:
      return ParseNumberLiteral();
    case TokenType::kString:
      return ParseStringLiteral();
    case TokenType::kLeftParen: {
      const Token lp = Take();
      ExprPtr inner = ParseExpr(0);
      if (inner == nullptr) return nullptr;
      if (Peek().type != TokenType::kRightParen) {
        UnexpectedHere();
        return nullptr;
      }
      Take();
      auto p = std::make_unique<ParenExpr>();
      p->pos = {lp.pos, last_end_};
      p->expr = std::move(inner);
      if (!SetHeight(*p, {p->expr.get()})) return nullptr;
      return p;
    }
    case TokenType::kLeftBrace:
      return ParseVectorSelector(nullptr);
    case TokenType::kIdentifier: {
      const Token name = Take();
      if (Peek().type == TokenType::kLeftParen) return ParseCall(name);
      return ParseVectorSelector(&name);
    }
    case TokenType::kMetricIdentifier: {
      const Token name = Take();
      return ParseVectorSelector(&name);
    }
    default:
      break;
  }
  if (IsAggregatorToken(t.type)) {
    const Token op = Take();
    const TokenType next = Peek().type;
    if (next == TokenType::kLeftParen || next == TokenType::kBy || next == TokenType::kWithout) {
      return ParseAggregate(op);
    }
    return ParseVectorSelector(&op);  // `sum` on its own is a metric name
  }
  if (IsKeywordMetricName(t.type)) {
    const Token name = Take();
    return ParseVectorSelector(&name);
  }
  UnexpectedHere();
  return nullptr;
}

ExprPtr Parser::ParsePostfix(ExprPtr e) {
  for (;;) {
    switch (Peek().type) {
      case TokenType::kLeftBracket:
        e = ParseRange(std::move(e));
        break;
      case TokenType::kOffset:
        e = ParseOffset(std::move(e));
        break;
      case TokenType::kAt:
        e = ParseAt(std::move(e));
        break;
      default:
        return e;
    }
    if (e == nullptr) return nullptr;
  }
}

ExprPtr Parser::ParseVectorSelector(const Token* name) {
  auto vs = std::make_unique<VectorSelector>();
  const int start = name != nullptr ? name->pos : Peek().pos;
  int end = name != nullptr ? name->pos + static_cast<int>(name->text.size()) : start;
  if (Peek().type == TokenType::kLeftBrace) {
    if (!ParseLabelMatchers(vs.get())) return nullptr;
    end = last_end_;
  }
  if (name != nullptr) {
    vs->name = std::string(name->text);
    auto m = LabelMatcher::Make(MatchType::kEqual, "__name__", vs->name);
    vs->matchers.push_back(std::move(*m));
  }
  vs->pos = {start, end};
  return vs;
}

bool Parser::ParseLabelMatchers(VectorSelector* vs) {
  Take();  // '{'
  if (Peek().type == TokenType::kRightBrace) {
    Take();
    return true;
  }
  for (;;) {
    if (Peek().type != TokenType::kIdentifier) {
      Unexpected("label matching", "identifier or \"}\"");
      return false;
    }
    const Token name = Take();
    MatchType type;
    switch (Peek().type) {
      case TokenType::kAssign:
        type = MatchType::kEqual;
        break;
      case TokenType::kNeq:
        type = MatchType::kNotEqual;
        break;
      case TokenType::kEqlRegex:
        type = MatchType::kRegexMatch;
        break;
      case TokenType::kNeqRegex:
        type = MatchType::kRegexNoMatch;
        break;
      default:
        Unexpected("label matching", "label matching operator");
        return false;
    }
    Take();
    if (Peek().type != TokenType::kString) {
      Unexpected("label matching", "string");
      return false;
    }
    const Token value = Take();
    auto unquoted = UnquoteString(value.text);
    if (!unquoted) {
      Fail(value.pos, last_end_,
           "error unquoting string " + QuoteString(value.text) + ": " + unquoted.error().message);
      return false;
    }
    auto m = LabelMatcher::Make(type, std::string(name.text), std::move(*unquoted));
    if (!m) {
      Fail(name.pos, last_end_, m.error().message);
      return false;
    }
    vs->matchers.push_back(std::move(*m));
    const TokenType next = Peek().type;
    if (next == TokenType::kRightBrace) {
      Take();
      return true;
    }
    if (next == TokenType::kComma) {
      Take();
      if (Peek().type == TokenType::kRightBrace) {
        Take();
        return true;
      }
      continue;
    }
    Unexpected("label matching", "\",\" or \"}\"");
    return false;
  }
}

bool Parser::ParseArgs(std::vector<ExprPtr>* args) {
  Take();  // '('
  if (Peek().type == TokenType::kRightParen) {
    Take();
    return true;
  }
  for (;;) {
    ExprPtr arg = ParseExpr(0);
    if (arg == nullptr) return false;
    args->push_back(std::move(arg));
    const TokenType next = Peek().type;
    if (next == TokenType::kComma) {
      const Token comma = Take();
      // Prometheus' grammar reduces `args ,` whenever no expression follows.
      if (!CanStartExpr(Peek().type) && Peek().type != TokenType::kError) {
        Fail(comma.pos, comma.pos + 1, "trailing commas not allowed in function call args");
        return false;
      }
      continue;
    }
    if (next == TokenType::kRightParen) {
      Take();
      return true;
    }
    UnexpectedHere();
    return false;
  }
}

ExprPtr Parser::ParseCall(const Token& name) {
  auto call = std::make_unique<Call>();
  if (!ParseArgs(&call->args)) return nullptr;
  call->func = FindFunction(name.text);
  if (call->func == nullptr) {
    Fail(name.pos, name.pos + static_cast<int>(name.text.size()),
         "unknown function with name " + QuoteString(name.text));
    return nullptr;
  }
  call->pos = {name.pos, last_end_};
  int h = 0;
  for (const auto& a : call->args) h = std::max(h, a->height);
  call->height = h + 1;
  if (!CheckNesting(call->height, call->pos.start)) return nullptr;
  return call;
}

ExprPtr Parser::ParseAggregate(const Token& op) {
  auto agg = std::make_unique<AggregateExpr>();
  agg->op = ToAggregateOp(op.type);
  std::vector<ExprPtr> args;
  {
    DepthGuard in_aggregation(&aggregation_depth_);
    bool have_modifier = false;
    if (Peek().type == TokenType::kBy || Peek().type == TokenType::kWithout) {
      agg->without = Take().type == TokenType::kWithout;
      if (!ParseGroupingLabels(&agg->grouping)) return nullptr;
      have_modifier = true;
    }
    if (Peek().type != TokenType::kLeftParen) {
      UnexpectedHere();
      return nullptr;
    }
    if (!ParseArgs(&args)) return nullptr;
    if (!have_modifier && (Peek().type == TokenType::kBy || Peek().type == TokenType::kWithout)) {
      agg->without = Take().type == TokenType::kWithout;
      if (!ParseGroupingLabels(&agg->grouping)) return nullptr;
    }
  }
  agg->pos = {op.pos, last_end_};
  if (args.empty()) {
    FailAt(*agg, "no arguments for aggregate expression provided");
    return nullptr;
  }
  const size_t want = AggregateHasParam(agg->op) ? 2 : 1;
  if (args.size() != want) {
    FailAt(*agg, "wrong number of arguments for aggregate expression provided, expected " +
                     std::to_string(want) + ", got " + std::to_string(args.size()));
    return nullptr;
  }
  if (want == 2) agg->param = std::move(args[0]);
  agg->expr = std::move(args.back());
  if (!SetHeight(*agg, {agg->expr.get(), agg->param.get()})) return nullptr;
  return agg;
}

bool Parser::ParseGroupingLabels(std::vector<std::string>* labels) {
  if (Peek().type != TokenType::kLeftParen) {
    Unexpected("grouping opts", "\"(\"");
    return false;
  }
  Take();
  if (Peek().type == TokenType::kRightParen) {
    Take();
    return true;
  }
  for (;;) {
    if (!IsMaybeLabel(Peek().type)) {
      Unexpected("grouping opts", "label");
      return false;
    }
    const Token label = Take();
    if (!IsValidLabelName(label.text)) {
      UnexpectedToken(label, "grouping opts", "label");
      return false;
    }
    labels->emplace_back(label.text);
    const TokenType next = Peek().type;
    if (next == TokenType::kComma) {
      Take();
      if (Peek().type == TokenType::kRightParen) {
        Take();
        return true;
      }
      continue;
    }
    if (next == TokenType::kRightParen) {
      Take();
      return true;
    }
    Unexpected("grouping opts", "\",\" or \")\"");
    return false;
  }
}

bool Parser::ParseDurationToken(const Token& t, int64_t* ms) {
  const int end = t.pos + static_cast<int>(t.text.size());
  auto d = ParseDuration(t.text);
  if (!d) {
    Fail(t.pos, end, d.error().message);
    return false;
  }
  if (*d == 0) {
    Fail(t.pos, end, "duration must be greater than 0");
    return false;
  }
  *ms = *d;
  return true;
}

ExprPtr Parser::ParseRange(ExprPtr e) {
  const Token lb = Take();
  if (Peek().type != TokenType::kDuration) {
    Unexpected("subquery selector", "duration");
    return nullptr;
  }
  int64_t range = 0;
  if (!ParseDurationToken(Take(), &range)) return nullptr;
  const TokenType next = Peek().type;
  if (next == TokenType::kRightBracket) {
    Take();
    const char* err = nullptr;
    if (e->kind != ExprKind::kVectorSelector) {
      err = "ranges only allowed for vector selectors";
    } else if (As<VectorSelector>(*e).offset_ms != 0) {
      err = "no offset modifiers allowed before range";
    } else if (As<VectorSelector>(*e).at.kind == AtModifier::Kind::kTimestamp) {
      err = "no @ modifiers allowed before range";
    }
    if (err != nullptr) {
      Fail(lb.pos, last_end_, err);
      return nullptr;
    }
    auto m = std::make_unique<MatrixSelector>();
    m->pos = {e->pos.start, last_end_};
    m->selector.reset(static_cast<VectorSelector*>(e.release()));
    m->range_ms = range;
    if (!SetHeight(*m, {m->selector.get()})) return nullptr;
    return m;
  }
  if (next != TokenType::kColon) {
    Unexpected("subquery or range", "\":\" or \"]\"");
    return nullptr;
  }
  Take();
  int64_t step = 0;
  if (Peek().type == TokenType::kDuration) {
    if (!ParseDurationToken(Take(), &step)) return nullptr;
    if (Peek().type != TokenType::kRightBracket) {
      Unexpected("subquery selector", "\"]\"");
      return nullptr;
    }
  } else if (Peek().type != TokenType::kRightBracket) {
    Unexpected("subquery selector", "duration or \"]\"");
    return nullptr;
  }
  Take();
  auto sq = std::make_unique<SubqueryExpr>();
  sq->pos = {e->pos.start, last_end_};
  sq->expr = std::move(e);
  sq->range_ms = range;
  sq->step_ms = step;
  if (!SetHeight(*sq, {sq->expr.get()})) return nullptr;
  return sq;
}

ExprPtr Parser::ParseOffset(ExprPtr e) {
  Take();  // offset
  bool negative = false;
  if (Peek().type == TokenType::kSub) {
    Take();
    negative = true;
  }
  if (Peek().type != TokenType::kDuration) {
    Unexpected("offset", "duration");
    return nullptr;
  }
  int64_t offset = 0;
  if (!ParseDurationToken(Take(), &offset)) return nullptr;
  int64_t* target = nullptr;
  switch (e->kind) {
    case ExprKind::kVectorSelector:
      target = &As<VectorSelector>(*e).offset_ms;
      break;
    case ExprKind::kMatrixSelector:
      target = &As<MatrixSelector>(*e).selector->offset_ms;
      break;
    case ExprKind::kSubquery:
      target = &As<SubqueryExpr>(*e).offset_ms;
      break;
    default:
      FailAt(*e,
             "offset modifier must be preceded by an instant vector selector or range vector "
             "selector or a subquery");
      return nullptr;
  }
  if (*target != 0) {
    FailAt(*e, "offset may not be set multiple times");
    return nullptr;
  }
  *target = negative ? -offset : offset;
  e->pos.end = last_end_;
  return e;
}

ExprPtr Parser::ParseAt(ExprPtr e) {
  Take();  // @
  AtModifier at;
  const TokenType t = Peek().type;
  if (t == TokenType::kNumber || t == TokenType::kAdd || t == TokenType::kSub) {
    bool negative = false;
    if (t != TokenType::kNumber) {
      negative = Take().type == TokenType::kSub;
      if (Peek().type != TokenType::kNumber) {
        Unexpected("@", "timestamp");
        return nullptr;
      }
    }
    const Token num = Take();
    auto v = ParseNumber(num.text);
    if (!v) {
      Fail(num.pos, last_end_, "error parsing number: " + v.error().message);
      return nullptr;
    }
    const double ts = negative ? -*v : *v;
    if (std::isinf(ts) || std::isnan(ts) || ts >= 9223372036854775807.0 ||
        ts <= -9223372036854775808.0) {
      FailAt(*e, "timestamp out of bounds for @ modifier: " + FormatGoF(ts));
      return nullptr;
    }
    at.kind = AtModifier::Kind::kTimestamp;
    at.timestamp_ms = FromFloatSeconds(ts);
  } else if (t == TokenType::kStart || t == TokenType::kEnd) {
    at.kind = Take().type == TokenType::kStart ? AtModifier::Kind::kStart : AtModifier::Kind::kEnd;
    if (Peek().type != TokenType::kLeftParen) {
      Unexpected("@", "timestamp");
      return nullptr;
    }
    Take();
    if (Peek().type != TokenType::kRightParen) {
      Unexpected("@", "timestamp");
      return nullptr;
    }
    Take();
  } else {
    Unexpected("@", "timestamp");
    return nullptr;
  }
  AtModifier* target = nullptr;
  switch (e->kind) {
    case ExprKind::kVectorSelector:
      target = &As<VectorSelector>(*e).at;
      break;
    case ExprKind::kMatrixSelector:
      target = &As<MatrixSelector>(*e).selector->at;
      break;
    case ExprKind::kSubquery:
      target = &As<SubqueryExpr>(*e).at;
      break;
    default:
      FailAt(*e,
             "@ modifier must be preceded by an instant vector selector or range vector selector "
             "or a subquery");
      return nullptr;
  }
  if (target->IsSet()) {
    FailAt(*e, "@ <timestamp> may not be set multiple times");
    return nullptr;
  }
  *target = at;
  e->pos.end = last_end_;
  return e;
}

// ---- Type checking ----

void Parser::ExpectType(Expr& e, ValueType want, std::string_view context) {
  const ValueType got = Check(e);
  if (Failed() || got == want) return;
  std::string msg = "expected type ";
  msg += DocumentedTypeName(want);
  msg += " in ";
  msg += context;
  msg += ", got ";
  msg += DocumentedTypeName(got);
  FailAt(e, std::move(msg));
}

ValueType Parser::Check(Expr& e) {
  if (Failed()) return ValueType::kNone;
  const ValueType type = e.Type();
  switch (e.kind) {
    case ExprKind::kNumberLiteral:
    case ExprKind::kStringLiteral:
      break;
    case ExprKind::kVectorSelector:
      CheckVectorSelector(As<VectorSelector>(e));
      break;
    case ExprKind::kMatrixSelector:
      Check(*As<MatrixSelector>(e).selector);
      break;
    case ExprKind::kSubquery:
      CheckSubquery(As<SubqueryExpr>(e));
      break;
    case ExprKind::kParen:
      Check(*As<ParenExpr>(e).expr);
      break;
    case ExprKind::kUnary:
      CheckUnary(As<UnaryExpr>(e));
      break;
    case ExprKind::kBinary:
      CheckBinary(As<BinaryExpr>(e));
      break;
    case ExprKind::kAggregate:
      CheckAggregate(As<AggregateExpr>(e));
      break;
    case ExprKind::kCall:
      CheckCall(As<Call>(e));
      break;
  }
  return type;
}

void Parser::CheckSubquery(SubqueryExpr& s) {
  const ValueType inner = Check(*s.expr);
  if (!Failed() && inner != ValueType::kVector) {
    FailAt(s, "subquery is only allowed on instant vector, got " +
                  std::string(ValueTypeName(inner)) + " instead");
  }
}

void Parser::CheckUnary(UnaryExpr& u) {
  const ValueType inner = Check(*u.expr);
  if (!Failed() && inner != ValueType::kScalar && inner != ValueType::kVector) {
    FailAt(u,
           "unary expression only allowed on expressions of type scalar or instant vector, "
           "got " +
               QuoteString(DocumentedTypeName(inner)));
  }
}

void Parser::CheckAggregate(AggregateExpr& agg) {
  ExpectType(*agg.expr, ValueType::kVector, "aggregation expression");
  if (agg.op == AggregateOp::kTopk || agg.op == AggregateOp::kBottomk ||
      agg.op == AggregateOp::kQuantile) {
    ExpectType(*agg.param, ValueType::kScalar, "aggregation parameter");
  }
  if (agg.op == AggregateOp::kCountValues) {
    ExpectType(*agg.param, ValueType::kString, "aggregation parameter");
  }
}

void Parser::CheckVectorSelector(const VectorSelector& vs) {
  if (!vs.name.empty()) {
    // The last matcher is the one for the name outside the braces.
    for (size_t i = 0; i + 1 < vs.matchers.size(); ++i) {
      if (vs.matchers[i].name() == "__name__") {
        FailAt(vs, "metric name must not be set twice: " + QuoteString(vs.name) + " or " +
                       QuoteString(vs.matchers[i].value()));
        return;
      }
    }
  }
  // At least one matcher must reject the empty value, so that a typo cannot
  // select every series.
  for (const auto& m : vs.matchers) {
    if (!m.Matches("")) return;
  }
  FailAt(vs, "vector selector must contain at least one non-empty matcher");
}

void Parser::CheckCall(Call& c) {
  const Function& f = *c.func;
  const size_t nargs = f.arg_types.size();
  const size_t got = c.args.size();
  const std::string name = QuoteString(f.name);
  if (f.variadic == 0) {
    if (nargs != got) {
      FailAt(c, "expected " + std::to_string(nargs) + " argument(s) in call to " + name + ", got " +
                    std::to_string(got));
      return;
    }
  } else {
    const size_t required = nargs - 1;
    if (required > got) {
      FailAt(c, "expected at least " + std::to_string(required) + " argument(s) in call to " +
                    name + ", got " + std::to_string(got));
      return;
    }
    if (f.variadic > 0 && required + static_cast<size_t>(f.variadic) < got) {
      FailAt(c, "expected at most " + std::to_string(required + static_cast<size_t>(f.variadic)) +
                    " argument(s) in call to " + name + ", got " + std::to_string(got));
      return;
    }
  }
  const std::string context = "call to function " + name;
  for (size_t i = 0; i < got; ++i) {
    size_t k = i;
    if (k >= nargs) {
      if (f.variadic == 0) break;
      k = nargs - 1;
    }
    ExpectType(*c.args[i], f.arg_types[k], context);
    if (Failed()) return;
  }
}

void Parser::CheckBinary(BinaryExpr& b) {
  const ValueType lt = Check(*b.lhs);
  const ValueType rt = Check(*b.rhs);
  if (Failed()) return;
  // The operator's position: from the end of the left operand to the start of
  // the right one, without surrounding whitespace.
  auto fail_at_operator = [&](std::string msg) {
    const int size = static_cast<int>(input_.size());
    int start = std::clamp(b.lhs->pos.end, 0, size);
    while (start < size && IsSpaceByte(input_[static_cast<size_t>(start)])) ++start;
    Fail(start, std::max(start, b.rhs->pos.start), std::move(msg));
  };
  const std::string op_quoted = QuoteString(BinaryOpString(b.op));
  if (b.return_bool && !IsComparison(b.op)) {
    fail_at_operator("bool modifier can only be used on comparison operators");
    return;
  }
  if (IsComparison(b.op) && !b.return_bool && lt == ValueType::kScalar &&
      rt == ValueType::kScalar) {
    fail_at_operator("comparisons between scalars must use BOOL modifier");
    return;
  }
  VectorMatching& m = *b.matching;
  if (IsSetOperator(b.op) && m.card == Cardinality::kOneToOne) m.card = Cardinality::kManyToMany;
  if (m.on) {
    for (const auto& l1 : m.labels) {
      for (const auto& l2 : m.include) {
        if (l1 == l2) {
          fail_at_operator("label " + QuoteString(l1) +
                           " must not occur in ON and GROUP clause at once");
          return;
        }
      }
    }
  }
  const auto operand_ok = [](ValueType t) {
    return t == ValueType::kScalar || t == ValueType::kVector;
  };
  if (!operand_ok(lt)) {
    FailAt(*b.lhs, "binary expression must contain only scalar and instant vector types");
    return;
  }
  if (!operand_ok(rt)) {
    FailAt(*b.rhs, "binary expression must contain only scalar and instant vector types");
    return;
  }
  if (lt != ValueType::kVector || rt != ValueType::kVector) {
    if (!m.labels.empty()) {
      FailAt(b, "vector matching only allowed between instant vectors");
      return;
    }
    b.matching.reset();
  } else if (IsSetOperator(b.op)) {
    if (m.card == Cardinality::kOneToMany || m.card == Cardinality::kManyToOne) {
      FailAt(b, "no grouping allowed for " + op_quoted + " operation");
      return;
    }
    if (m.card != Cardinality::kManyToMany) {
      FailAt(b, "set operations must always be many-to-many");
      return;
    }
  }
  if ((lt == ValueType::kScalar || rt == ValueType::kScalar) && IsSetOperator(b.op)) {
    FailAt(b, "set operator " + op_quoted + " not allowed in binary scalar expression");
  }
}

}  // namespace

std::string ParseError::ToString() const {
  return std::to_string(line) + ":" + std::to_string(column) + ": parse error: " + message;
}

core::Expected<ExprPtr, ParseError> Parse(std::string_view query) {
  if (query.size() > kMaxQueryBytes) {
    ParseError e;
    e.message = "query is too long (limit " + std::to_string(kMaxQueryBytes) + " bytes)";
    return core::Unexpected(std::move(e));
  }
  Parser parser(query);
  ExprPtr e = parser.Run();
  if (parser.error()) return core::Unexpected(std::move(*parser.error()));
  return e;
}

core::Result<ExprPtr> ParseExpr(std::string_view query) {
  auto r = Parse(query);
  if (!r) return core::Fail(core::ErrorCode::kInvalidRequest, r.error().ToString());
  return std::move(*r);
}

}  // namespace promql
