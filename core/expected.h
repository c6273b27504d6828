// Expected<T, E>: a value or an error, with the subset of C++23 std::expected's
// interface we use. Our own because clang 14 (the libFuzzer toolchain in
// Debian bookworm) cannot compile libstdc++ 12's <expected>; g++ and clang then
// build the same code.
#pragma once

#include <cstdlib>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

namespace core {

template <typename E>
class Unexpected {
 public:
  explicit Unexpected(E error) : error_(std::move(error)) {}
  const E& error() const& { return error_; }
  E& error() & { return error_; }
  E&& error() && { return std::move(error_); }

 private:
  E error_;
};
template <typename E>
Unexpected(E) -> Unexpected<E>;

template <typename T, typename E>
class Expected {
 public:
  using value_type = T;
  using error_type = E;

  Expected() : v_(std::in_place_index<0>) {}
  template <typename U = T>
    requires(std::is_constructible_v<T, U &&> &&
             !std::is_same_v<std::remove_cvref_t<U>, Expected> &&
             !std::is_same_v<std::remove_cvref_t<U>, Unexpected<E>>)
  Expected(U&& value) : v_(std::in_place_index<0>, std::forward<U>(value)) {}
  template <typename G>
  Expected(const Unexpected<G>& u) : v_(std::in_place_index<1>, u.error()) {}
  template <typename G>
  Expected(Unexpected<G>&& u) : v_(std::in_place_index<1>, std::move(u).error()) {}

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& operator*() & { return std::get<0>(v_); }
  const T& operator*() const& { return std::get<0>(v_); }
  T&& operator*() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& value() & { return Checked(), std::get<0>(v_); }
  const T& value() const& { return Checked(), std::get<0>(v_); }
  T&& value() && { return Checked(), std::get<0>(std::move(v_)); }

  E& error() & { return std::get<1>(v_); }
  const E& error() const& { return std::get<1>(v_); }
  E&& error() && { return std::get<1>(std::move(v_)); }

 private:
  void Checked() const {
    if (!has_value()) std::abort();  // like std::expected::value() without exceptions
  }
  std::variant<T, E> v_;
};

template <typename E>
class Expected<void, E> {
 public:
  using value_type = void;
  using error_type = E;

  Expected() = default;
  template <typename G>
  Expected(const Unexpected<G>& u) : error_(u.error()) {}
  template <typename G>
  Expected(Unexpected<G>&& u) : error_(std::move(u).error()) {}

  bool has_value() const { return !error_.has_value(); }
  explicit operator bool() const { return has_value(); }
  void operator*() const {}
  void value() const {
    if (!has_value()) std::abort();
  }
  E& error() & { return *error_; }
  const E& error() const& { return *error_; }
  E&& error() && { return std::move(*error_); }

 private:
  std::optional<E> error_;
};

}  // namespace core
