#include "rest/key_issuer.h"

#include "rest/api_key.h"

namespace rest {

core::Result<IssuedKey> IssueKey(control::ControlPlane& db, const std::string& account_id,
                                 const std::string& project_id, const std::string& name,
                                 const std::vector<std::string>& scopes, int64_t now_ms) {
  auto generated = GenerateApiKey();
  if (!generated) return core::Unexpected(generated.error());
  control::ApiKey key;
  key.account_id = account_id;
  key.project_id = project_id;
  key.name = name;
  key.scopes = scopes;
  key.secrets.push_back(control::KeySecret{generated->prefix, generated->hash_hex, now_ms, {}});
  auto created = db.CreateKey(key, now_ms);
  if (!created) return core::Unexpected(created.error());
  return IssuedKey{std::move(*created), std::move(generated->full)};
}

core::Result<IssuedKey> IssueSecret(control::ControlPlane& db, const std::string& account_id,
                                    const std::string& key_id, int64_t old_expires_at_ms,
                                    int64_t now_ms) {
  auto generated = GenerateApiKey();
  if (!generated) return core::Unexpected(generated.error());
  auto key = db.AddSecret(account_id, key_id,
                          control::KeySecret{generated->prefix, generated->hash_hex, now_ms, {}},
                          old_expires_at_ms);
  if (!key) return core::Unexpected(key.error());
  return IssuedKey{std::move(*key), std::move(generated->full)};
}

}  // namespace rest
