#include "aggregator/promql_printer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "aggregator/promql_functions.h"
#include "aggregator/promql_text.h"

namespace promql {

namespace {

std::string Join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += sep;
    out += items[i];
  }
  return out;
}

std::string FormatAt(const AtModifier& at) {
  switch (at.kind) {
    case AtModifier::Kind::kNone:
      return "";
    case AtModifier::Kind::kStart:
      return " @ start()";
    case AtModifier::Kind::kEnd:
      return " @ end()";
    case AtModifier::Kind::kTimestamp: {
      char buf[64];
      std::snprintf(buf, sizeof(buf), " @ %.3f", static_cast<double>(at.timestamp_ms) / 1000.0);
      return buf;
    }
  }
  return "";
}

std::string FormatOffset(int64_t offset_ms) {
  if (offset_ms > 0) return " offset " + FormatDuration(offset_ms);
  if (offset_ms < 0) return " offset -" + FormatDuration(-offset_ms);
  return "";
}

// The selector without its @ and offset (a matrix selector prints those after the range).
std::string FormatSelectorBody(const VectorSelector& vs) {
  std::vector<std::string> matchers;
  for (const auto& m : vs.matchers) {
    // The name written outside the braces is not repeated inside them.
    if (m.name() == "__name__" && m.type() == MatchType::kEqual && m.value() == vs.name) continue;
    matchers.push_back(m.ToString());
  }
  if (matchers.empty()) return vs.name;
  std::sort(matchers.begin(), matchers.end());
  return vs.name + "{" + Join(matchers, ",") + "}";
}

// Cold, string-heavy parts live in their own (non-inlined) functions so that
// the recursive Print/Dump frames stay small for deeply nested trees.
#define PROMQL_NOINLINE __attribute__((noinline))

PROMQL_NOINLINE void AppendLeaf(const Expr& e, std::string* out) {
  switch (e.kind) {
    case ExprKind::kNumberLiteral:
      *out += FormatNumber(As<NumberLiteral>(e).value);
      return;
    case ExprKind::kStringLiteral:
      *out += QuoteString(As<StringLiteral>(e).value);
      return;
    case ExprKind::kVectorSelector: {
      const auto& vs = As<VectorSelector>(e);
      *out += FormatSelectorBody(vs);
      *out += FormatAt(vs.at);
      *out += FormatOffset(vs.offset_ms);
      return;
    }
    case ExprKind::kMatrixSelector: {
      const auto& m = As<MatrixSelector>(e);
      *out += FormatSelectorBody(*m.selector);
      *out += "[" + FormatDuration(m.range_ms) + "]";
      *out += FormatAt(m.selector->at);
      *out += FormatOffset(m.selector->offset_ms);
      return;
    }
    default:
      return;
  }
}

PROMQL_NOINLINE void AppendSubquerySuffix(const SubqueryExpr& s, std::string* out) {
  *out += "[" + FormatDuration(s.range_ms) + ":";
  if (s.step_ms != 0) *out += FormatDuration(s.step_ms);
  *out += "]";
  *out += FormatAt(s.at);
  *out += FormatOffset(s.offset_ms);
}

PROMQL_NOINLINE void AppendBinaryOperator(const BinaryExpr& b, std::string* out) {
  *out += " ";
  *out += BinaryOpString(b.op);
  if (b.return_bool) *out += " bool";
  if (b.matching) {
    const VectorMatching& m = *b.matching;
    const bool grouped = m.card == Cardinality::kManyToOne || m.card == Cardinality::kOneToMany;
    if (!m.labels.empty() || m.on || grouped) {
      *out += m.on ? " on (" : " ignoring (";
      *out += Join(m.labels, ", ") + ")";
      if (grouped) {
        *out += m.card == Cardinality::kManyToOne ? " group_left (" : " group_right (";
        *out += Join(m.include, ", ") + ")";
      }
    }
  }
  *out += " ";
}

PROMQL_NOINLINE void AppendAggregateHead(const AggregateExpr& a, std::string* out) {
  *out += AggregateOpString(a.op);
  if (a.without) {
    *out += " without (" + Join(a.grouping, ", ") + ") ";
  } else if (!a.grouping.empty()) {
    *out += " by (" + Join(a.grouping, ", ") + ") ";
  }
  *out += "(";
}

void Print(const Expr& e, std::string* out) {
  switch (e.kind) {
    case ExprKind::kNumberLiteral:
    case ExprKind::kStringLiteral:
    case ExprKind::kVectorSelector:
    case ExprKind::kMatrixSelector:
      AppendLeaf(e, out);
      return;
    case ExprKind::kSubquery: {
      const auto& s = As<SubqueryExpr>(e);
      Print(*s.expr, out);
      AppendSubquerySuffix(s, out);
      return;
    }
    case ExprKind::kParen:
      out->push_back('(');
      Print(*As<ParenExpr>(e).expr, out);
      out->push_back(')');
      return;
    case ExprKind::kUnary: {
      const auto& u = As<UnaryExpr>(e);
      out->push_back(u.op == UnaryOp::kMinus ? '-' : '+');
      Print(*u.expr, out);
      return;
    }
    case ExprKind::kBinary: {
      const auto& b = As<BinaryExpr>(e);
      Print(*b.lhs, out);
      AppendBinaryOperator(b, out);
      Print(*b.rhs, out);
      return;
    }
    case ExprKind::kAggregate: {
      const auto& a = As<AggregateExpr>(e);
      AppendAggregateHead(a, out);
      if (a.param != nullptr) {
        Print(*a.param, out);
        out->append(", ");
      }
      Print(*a.expr, out);
      out->push_back(')');
      return;
    }
    case ExprKind::kCall: {
      const auto& c = As<Call>(e);
      out->append(c.func->name);
      out->push_back('(');
      for (size_t i = 0; i < c.args.size(); ++i) {
        if (i > 0) out->append(", ");
        Print(*c.args[i], out);
      }
      out->push_back(')');
      return;
    }
  }
}

std::string DebugAt(const AtModifier& at) {
  switch (at.kind) {
    case AtModifier::Kind::kNone:
      return "";
    case AtModifier::Kind::kStart:
      return " at=start";
    case AtModifier::Kind::kEnd:
      return " at=end";
    case AtModifier::Kind::kTimestamp:
      return " at=" + std::to_string(at.timestamp_ms);
  }
  return "";
}

std::string CardName(Cardinality c) {
  switch (c) {
    case Cardinality::kOneToOne:
      return "one-to-one";
    case Cardinality::kManyToOne:
      return "many-to-one";
    case Cardinality::kOneToMany:
      return "one-to-many";
    case Cardinality::kManyToMany:
      return "many-to-many";
  }
  return "?";
}

// The opening of a node's dump, up to where its children go.
PROMQL_NOINLINE void DumpHead(const Expr& e, std::string* out) {
  switch (e.kind) {
    case ExprKind::kNumberLiteral: {
      const double v = As<NumberLiteral>(e).value;
      *out += "(number " + FormatNumber(v) + (v == 0 && std::signbit(v) ? " negzero" : "");
      return;
    }
    case ExprKind::kStringLiteral:
      *out += "(string " + QuoteString(As<StringLiteral>(e).value);
      return;
    case ExprKind::kVectorSelector: {
      const auto& vs = As<VectorSelector>(e);
      std::vector<std::string> matchers;
      for (const auto& m : vs.matchers) matchers.push_back(m.ToString());
      std::sort(matchers.begin(), matchers.end());
      *out += "(vector name=" + QuoteString(vs.name) + " {" + Join(matchers, ",") + "}";
      if (vs.offset_ms != 0) *out += " offset=" + std::to_string(vs.offset_ms);
      *out += DebugAt(vs.at);
      return;
    }
    case ExprKind::kMatrixSelector:
      *out += "(matrix range=" + std::to_string(As<MatrixSelector>(e).range_ms);
      return;
    case ExprKind::kSubquery: {
      const auto& s = As<SubqueryExpr>(e);
      *out +=
          "(subquery range=" + std::to_string(s.range_ms) + " step=" + std::to_string(s.step_ms);
      if (s.offset_ms != 0) *out += " offset=" + std::to_string(s.offset_ms);
      *out += DebugAt(s.at);
      return;
    }
    case ExprKind::kParen:
      *out += "(paren";
      return;
    case ExprKind::kUnary:
      *out += As<UnaryExpr>(e).op == UnaryOp::kMinus ? "(unary -" : "(unary +";
      return;
    case ExprKind::kBinary: {
      const auto& b = As<BinaryExpr>(e);
      *out += "(binary ";
      *out += BinaryOpString(b.op);
      if (b.return_bool) *out += " bool";
      if (b.matching) {
        *out += " " + CardName(b.matching->card) + (b.matching->on ? " on(" : " ignoring(") +
                Join(b.matching->labels, ",") + ") include(" + Join(b.matching->include, ",") + ")";
      }
      return;
    }
    case ExprKind::kAggregate: {
      const auto& a = As<AggregateExpr>(e);
      *out += "(aggregate ";
      *out += AggregateOpString(a.op);
      *out += a.without ? " without(" : " by(";
      *out += Join(a.grouping, ",") + ")";
      if (a.param != nullptr) *out += " param=";
      return;
    }
    case ExprKind::kCall:
      *out += "(call ";
      *out += As<Call>(e).func->name;
      return;
  }
}

void Dump(const Expr& e, std::string* out) {
  DumpHead(e, out);
  switch (e.kind) {
    case ExprKind::kMatrixSelector:
      out->push_back(' ');
      Dump(*As<MatrixSelector>(e).selector, out);
      break;
    case ExprKind::kSubquery:
      out->push_back(' ');
      Dump(*As<SubqueryExpr>(e).expr, out);
      break;
    case ExprKind::kParen:
      out->push_back(' ');
      Dump(*As<ParenExpr>(e).expr, out);
      break;
    case ExprKind::kUnary:
      out->push_back(' ');
      Dump(*As<UnaryExpr>(e).expr, out);
      break;
    case ExprKind::kBinary:
      out->push_back(' ');
      Dump(*As<BinaryExpr>(e).lhs, out);
      out->push_back(' ');
      Dump(*As<BinaryExpr>(e).rhs, out);
      break;
    case ExprKind::kAggregate: {
      const auto& a = As<AggregateExpr>(e);
      if (a.param != nullptr) Dump(*a.param, out);
      out->push_back(' ');
      Dump(*a.expr, out);
      break;
    }
    case ExprKind::kCall:
      for (const auto& arg : As<Call>(e).args) {
        out->push_back(' ');
        Dump(*arg, out);
      }
      break;
    default:
      break;
  }
  out->push_back(')');
}

}  // namespace

std::string Format(const Expr& e) {
  std::string out;
  Print(e, &out);
  return out;
}

std::string DebugString(const Expr& e) {
  std::string out;
  Dump(e, &out);
  return out;
}

}  // namespace promql
