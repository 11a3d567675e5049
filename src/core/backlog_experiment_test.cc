// The backlog experiment: its report survives the child->parent JSON trip,
// and a short run on this namespace's loopback shows Linux's N+1 rule.
#include "core/backlog_experiment.h"

#include <doctest/doctest.h>

using namespace sp;

TEST_CASE("experiment result round-trips through JSON") {
  ExperimentResult r;
  r.private_netns = true;
  r.port = 4242;
  r.requested = 100;
  r.effective = 8;
  r.somaxconn = 8;
  r.clients = 12;
  r.established = 10;
  r.queued = 9;
  r.unanswered = 2;
  r.timeout_seconds = 0.3;
  r.accept_rate = 0;
  r.counters = {{"ListenOverflows", 4}, {"ListenDrops", 4}};
  Json j = experiment_json(r);
  CHECK(j["capacity"] == 9);
  CHECK(j["ack_dropped"] == 1);
  CHECK(j["accept_rate"].is_null());
  auto back = experiment_from_json(j);
  REQUIRE(back.ok());
  CHECK(experiment_json(*back) == j);
  j.erase("queued");
  CHECK_FALSE(experiment_from_json(j).ok());
}

TEST_CASE("ack_dropped never goes negative") {
  ExperimentResult r;
  r.established = 2;
  r.queued = 2;
  r.accepted = 1;
  CHECK(r.ack_dropped() == 0);
}

TEST_CASE("a short run on loopback: backlog 2 holds 3") {
  ExperimentOptions o;
  o.backlog = 2;
  o.clients = 5;
  o.timeout = std::chrono::milliseconds(200);
  o.private_netns = false;  // no root needed; the counters are shared
  auto r = run_backlog_experiment(o);
  REQUIRE(r.ok());
  CHECK_FALSE(r->private_netns);
  CHECK(r->effective == 2);
  CHECK(r->queued == 3);
  CHECK(r->established == 3);
  CHECK(r->unanswered == 2);
  CHECK(counter(r->counters, "ListenOverflows").value_or(0) >= 2);
}

TEST_CASE("namespace sysctls without a private namespace are a usage error") {
  ExperimentOptions o;
  o.private_netns = false;
  o.syncookies = 0;
  auto r = run_backlog_experiment(o);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().kind == ErrorKind::Usage);
}
