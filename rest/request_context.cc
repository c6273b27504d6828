#include "rest/request_context.h"

#include <algorithm>

namespace rest {

bool IsKnownScope(std::string_view scope) {
  return std::find(std::begin(kAllScopes), std::end(kAllScopes), scope) != std::end(kAllScopes);
}

bool ScopeListAllows(const std::vector<std::string>& granted, std::string_view scope) {
  if (granted.empty() || scope.empty()) return true;
  for (const std::string& g : granted) {
    if (g == scope) return true;
    if (scope == "account:read" && (g == "account:admin" || g == "billing:admin")) return true;
  }
  return false;
}

bool RequestContext::Allows(std::string_view scope) const {
  return ScopeListAllows(scopes, scope) && ScopeListAllows(project_scopes, scope);
}

}  // namespace rest
