#include "rest/router.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <map>
#include <stdexcept>
#include <string>

#include "core/clock.h"
#include "tests/rest/rest_test_util.h"

namespace rest {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using nlohmann::json;
using test_util::CounterValue;
using test_util::FakeAuthenticator;
using test_util::MakeRequest;
using test_util::ResponseHeader;

class RouterTest : public ::testing::Test {
 protected:
  RouterTest() : clock_(1'736'937'000'000), router_(auth_, clock_, registry_) {}

  // Adds a route whose handler records the call and answers 200 {"route": name}.
  void AddEcho(std::string method, std::string pattern, std::string name, bool is_public = false,
               bool json_body = false, std::string scope = "") {
    router_.Add(Route{std::move(method), std::move(pattern), name, is_public, json_body,
                      std::move(scope), [this, name](const Call& call, core::HttpResponse& resp) {
                        ++handled_;
                        last_params_ = call.path_params;
                        last_project_ = call.ctx.project_id;
                        resp.body = json{{"route", name}}.dump();
                      }});
  }

  core::HttpResponse Handle(const core::HttpRequest& req) {
    core::HttpResponse resp;
    router_.Handle(req, resp);
    return resp;
  }

  static core::HttpRequest Authed(core::HttpRequest req, const std::string& key = "good") {
    req.headers.emplace_back("authorization", "Bearer " + key);
    return req;
  }

  static json ErrorOf(const core::HttpResponse& resp) { return json::parse(resp.body).at("error"); }

  FakeAuthenticator auth_;
  core::FakeClock clock_;
  prometheus::Registry registry_;
  Router router_;
  int handled_ = 0;
  std::map<std::string, std::string> last_params_;
  std::string last_project_;
};

TEST_F(RouterTest, UnknownPathIs404) {
  AddEcho("GET", "/v1/things", "things");
  const auto resp = Handle(Authed(MakeRequest("GET", "/v1/nothing")));
  EXPECT_EQ(resp.status, 404);
  EXPECT_EQ(resp.content_type, "application/json");
  EXPECT_EQ(ErrorOf(resp).at("code"), "not_found");
  EXPECT_THAT(std::string(ErrorOf(resp).at("message")), HasSubstr("/v1/nothing"));
  EXPECT_EQ(handled_, 0);
  EXPECT_EQ(auth_.calls(), 0) << "no authentication before routing";
}

TEST_F(RouterTest, WrongMethodIs405WithAllow) {
  AddEcho("GET", "/v1/things/{id}", "things.get");
  AddEcho("DELETE", "/v1/things/{id}", "things.delete");
  AddEcho("POST", "/v1/other", "other");
  const auto resp = Handle(Authed(MakeRequest("PUT", "/v1/things/7")));
  EXPECT_EQ(resp.status, 405);
  EXPECT_EQ(ErrorOf(resp).at("code"), "method_not_allowed");
  ASSERT_NE(ResponseHeader(resp, "Allow"), nullptr);
  EXPECT_EQ(*ResponseHeader(resp, "Allow"), "GET, HEAD, DELETE");
  EXPECT_EQ(handled_, 0);
}

TEST_F(RouterTest, HeadIsServedByGetRoutes) {
  AddEcho("GET", "/healthz", "healthz", /*is_public=*/true);
  const auto resp = Handle(MakeRequest("HEAD", "/healthz"));
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(handled_, 1);
}

TEST_F(RouterTest, PathParamsAreBound) {
  AddEcho("GET", "/v1/events/export", "events.export");  // added first: wins over {id}
  AddEcho("GET", "/v1/events/{event_id}", "events.get");
  AddEcho("GET", "/v1/entities/{entity_type}/{entity_id}", "entities.get");

  auto resp = Handle(Authed(MakeRequest("GET", "/v1/events/evt_123")));
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(json::parse(resp.body).at("route"), "events.get");
  EXPECT_THAT(last_params_, ElementsAre(Pair("event_id", "evt_123")));

  resp = Handle(Authed(MakeRequest("GET", "/v1/entities/user/u-42")));
  EXPECT_EQ(json::parse(resp.body).at("route"), "entities.get");
  EXPECT_THAT(last_params_, ElementsAre(Pair("entity_id", "u-42"), Pair("entity_type", "user")));

  resp = Handle(Authed(MakeRequest("GET", "/v1/events/export")));
  EXPECT_EQ(json::parse(resp.body).at("route"), "events.export");
  EXPECT_TRUE(last_params_.empty());

  // Trailing slash is the same path; extra or missing segments are not.
  resp = Handle(Authed(MakeRequest("GET", "/v1/events/evt_9/")));
  EXPECT_EQ(resp.status, 200);
  EXPECT_THAT(last_params_, ElementsAre(Pair("event_id", "evt_9")));
  EXPECT_EQ(Handle(Authed(MakeRequest("GET", "/v1/events/evt_9/more"))).status, 404);
  EXPECT_EQ(Handle(Authed(MakeRequest("GET", "/v1/entities/user"))).status, 404);
  EXPECT_EQ(Handle(Authed(MakeRequest("GET", "/v1/events"))).status, 404);
}

TEST_F(RouterTest, BodyTooLargeIs413BeforeAuthAndHandler) {
  AddEcho("POST", "/v1/metrics/batch", "batch", false, true);
  core::HttpRequest req = MakeRequest("POST", "/v1/metrics/batch", "");
  req.body_too_large = true;
  const auto resp = Handle(req);
  EXPECT_EQ(resp.status, 413);
  EXPECT_EQ(ErrorOf(resp).at("code"), "payload_too_large");
  EXPECT_EQ(handled_, 0);
  EXPECT_EQ(auth_.calls(), 0);
  // Routing still comes first.
  req.path = "/v1/unknown";
  EXPECT_EQ(Handle(req).status, 404);
}

TEST_F(RouterTest, JsonRoutesRequireJsonContentType) {
  AddEcho("POST", "/v1/json", "json", false, /*json_body=*/true);
  AddEcho("POST", "/v1/raw", "raw", false, /*json_body=*/false);

  auto resp = Handle(Authed(MakeRequest("POST", "/v1/json", "{}", "text/plain")));
  EXPECT_EQ(resp.status, 415);
  EXPECT_EQ(ErrorOf(resp).at("code"), "unsupported_media_type");
  EXPECT_EQ(ErrorOf(resp).at("param"), "Content-Type");
  EXPECT_THAT(std::string(ErrorOf(resp).at("message")), HasSubstr("text/plain"));

  resp = Handle(Authed(MakeRequest("POST", "/v1/json", "{}", "")));
  EXPECT_EQ(resp.status, 415);
  EXPECT_THAT(std::string(ErrorOf(resp).at("message")), HasSubstr("got none"));
  EXPECT_EQ(handled_, 0);

  for (const char* ct : {"application/json", "application/json; charset=utf-8",
                         "application/json;charset=UTF-8", "Application/JSON",
                         " application/json ", "application/merge-patch+json"}) {
    SCOPED_TRACE(ct);
    EXPECT_EQ(Handle(Authed(MakeRequest("POST", "/v1/json", "{}", ct))).status, 200);
  }
  // An empty body needs no content type (the handler reports what is missing).
  EXPECT_EQ(Handle(Authed(MakeRequest("POST", "/v1/json", "", ""))).status, 200);
  // Routes without a JSON body take anything.
  EXPECT_EQ(Handle(Authed(MakeRequest("POST", "/v1/raw", "a,b", "text/csv"))).status, 200);
}

TEST(IsJsonContentTypeTest, Table) {
  struct Case {
    std::string ct;
    bool json;
  };
  const Case cases[] = {
      {"application/json", true},
      {"application/json; charset=utf-8", true},
      {"APPLICATION/JSON", true},
      {"application/problem+json", true},
      {"  application/json  ;q=1", true},
      {"", false},
      {"text/plain", false},
      {"application/jsonx", false},
      {"application/x-www-form-urlencoded", false},
      {"text/json", false},
      {"multipart/form-data; boundary=x", false},
      {"application/json-seq", false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.ct);
    EXPECT_EQ(IsJsonContentType(c.ct), c.json);
  }
}

TEST_F(RouterTest, AuthenticationFailureReturnsTheAuthenticatorsError) {
  AddEcho("POST", "/v1/metrics/report", "report", false, true, "metrics:write");
  auto resp = Handle(MakeRequest("POST", "/v1/metrics/report", "{}"));
  EXPECT_EQ(resp.status, 401);
  EXPECT_EQ(ErrorOf(resp).at("code"), "unauthorized");
  EXPECT_EQ(ErrorOf(resp).at("message"), "missing API key");

  resp = Handle(Authed(MakeRequest("POST", "/v1/metrics/report", "{}"), "wrong"));
  EXPECT_EQ(resp.status, 401);
  EXPECT_EQ(ErrorOf(resp).at("message"), "unknown API key");

  resp = Handle(Authed(MakeRequest("POST", "/v1/metrics/report", "{}"), "readonly"));
  EXPECT_EQ(resp.status, 403);
  EXPECT_EQ(ErrorOf(resp).at("code"), "forbidden");
  EXPECT_EQ(handled_, 0);
  EXPECT_THAT(ErrorOf(resp).at("message").get<std::string>(), HasSubstr("metrics:write"));
  EXPECT_EQ(ErrorOf(resp).at("param"), "scope");

  resp = Handle(Authed(MakeRequest("POST", "/v1/metrics/report", "{}"), "other"));
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(last_project_, "globex") << "handlers see the authenticated project";
}

TEST_F(RouterTest, PublicRoutesSkipAuthentication) {
  AddEcho("GET", "/metrics", "metrics", /*is_public=*/true);
  EXPECT_EQ(Handle(MakeRequest("GET", "/metrics")).status, 200);
  EXPECT_EQ(auth_.calls(), 0);
  EXPECT_EQ(last_project_, "");
}

TEST_F(RouterTest, HandlerExceptionBecomes500Json) {
  router_.Add(Route{"GET", "/boom", "boom", true, false, "",
                    [](const Call&, core::HttpResponse& resp) {
                      resp.status = 201;
                      resp.SetHeader("X-Partial", "yes");
                      resp.body = "partial";
                      throw std::runtime_error("disk on fire");
                    }});
  core::HttpResponse resp;
  ASSERT_NO_THROW(router_.Handle(MakeRequest("GET", "/boom"), resp));
  EXPECT_EQ(resp.status, 500);
  EXPECT_EQ(resp.content_type, "application/json");
  EXPECT_EQ(ErrorOf(resp).at("code"), "internal_error");
  EXPECT_THAT(std::string(ErrorOf(resp).at("message")), HasSubstr("disk on fire"));
  EXPECT_EQ(ResponseHeader(resp, "X-Partial"), nullptr) << "a half-built response is discarded";
}

TEST_F(RouterTest, NonStandardExceptionBecomes500Json) {
  router_.Add(Route{"GET", "/boom", "boom", true, false, "",
                    [](const Call&, core::HttpResponse&) { throw 42; }});
  core::HttpResponse resp;
  ASSERT_NO_THROW(router_.Handle(MakeRequest("GET", "/boom"), resp));
  EXPECT_EQ(resp.status, 500);
  EXPECT_EQ(ErrorOf(resp).at("code"), "internal_error");
}

TEST_F(RouterTest, CountsRequestsByRouteAndCode) {
  AddEcho("GET", "/a", "route.a", /*is_public=*/true);
  AddEcho("POST", "/a", "route.a.post", /*is_public=*/false);
  Handle(MakeRequest("GET", "/a"));
  Handle(MakeRequest("GET", "/a"));
  Handle(MakeRequest("POST", "/a", "{}"));  // 401
  Handle(MakeRequest("GET", "/zzz"));
  Handle(MakeRequest("PUT", "/a"));
  EXPECT_EQ(CounterValue(registry_, "tally_http_requests_total", {{"route", "route.a"}, {"code", "200"}}),
            2);
  EXPECT_EQ(CounterValue(registry_, "tally_http_requests_total",
                         {{"route", "route.a.post"}, {"code", "401"}}),
            1);
  EXPECT_EQ(CounterValue(registry_, "tally_http_requests_total", {{"route", "not_found"}, {"code", "404"}}),
            1);
  EXPECT_EQ(CounterValue(registry_, "tally_http_requests_total",
                         {{"route", "method_not_allowed"}, {"code", "405"}}),
            1);
}

TEST_F(RouterTest, ListsRoutes) {
  AddEcho("GET", "/a", "a");
  AddEcho("POST", "/b/{id}", "b", false, true, "metrics:write");
  ASSERT_EQ(router_.routes().size(), 2u);
  EXPECT_EQ(router_.routes()[1].pattern, "/b/{id}");
  EXPECT_EQ(router_.routes()[1].scope, "metrics:write");
  EXPECT_TRUE(router_.routes()[1].json_body);
}

}  // namespace
}  // namespace rest
