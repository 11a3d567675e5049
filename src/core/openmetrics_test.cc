// The metrics text of `backlog --openmetrics`: label escaping against hostile
// names, snake_case names of the kernel counters, merged series of an
// SO_REUSEPORT group, and the whole exposition for a captured netstat file.
#include "core/openmetrics.h"

#include <doctest/doctest.h>

#include "core/test_data.h"

using namespace sp;

TEST_CASE("label values: backslash, quote and newline escaped; controls and bad UTF-8 replaced") {
  CHECK(metrics_label_value("plain") == "plain");
  CHECK(metrics_label_value("a\\b") == "a\\\\b");
  CHECK(metrics_label_value("say \"hi\"") == "say \\\"hi\\\"");
  CHECK(metrics_label_value("two\nlines") == "two\\nlines");
  CHECK(metrics_label_value("bell\x07") == "bell\xEF\xBF\xBD");
  CHECK(metrics_label_value("esc\x1b[31m") == "esc\xEF\xBF\xBD[31m");
  CHECK(metrics_label_value(std::string("nul\0x", 5)) == "nul\xEF\xBF\xBDx");
  CHECK(metrics_label_value("del\x7f") == "del\xEF\xBF\xBD");
  CHECK(metrics_label_value("csi\xC2\x9B" "2J") == "csi\xEF\xBF\xBD" "2J");  // C1 CSI
  CHECK(metrics_label_value("nbsp\xC2\xA0") == "nbsp\xC2\xA0");
  // Valid UTF-8 passes: "é" and "€" and an emoji.
  CHECK(metrics_label_value("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80") == "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
  // Lone continuation, truncated sequence, overlong '/', a surrogate.
  CHECK(metrics_label_value("\x80") == "\xEF\xBF\xBD");
  CHECK(metrics_label_value("\xE2\x82") == "\xEF\xBF\xBD\xEF\xBF\xBD");
  CHECK(metrics_label_value("\xC0\xAF") == "\xEF\xBF\xBD\xEF\xBF\xBD");
  CHECK(metrics_label_value("\xED\xA0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST_CASE("kernel counter names in snake_case") {
  CHECK(metrics_snake_case("ListenOverflows") == "listen_overflows");
  CHECK(metrics_snake_case("ListenDrops") == "listen_drops");
  CHECK(metrics_snake_case("TCPReqQFullDrop") == "tcp_req_q_full_drop");
  CHECK(metrics_snake_case("TCPReqQFullDoCookies") == "tcp_req_q_full_do_cookies");
  CHECK(metrics_snake_case("SyncookiesSent") == "syncookies_sent");
  CHECK(metrics_snake_case("TCPBacklogDrop") == "tcp_backlog_drop");
}

TEST_CASE("one listener and the counters: every family, labels, # EOF last") {
  ListenerMetrics l{"tcp", "127.0.0.1", 8080, "nginx", 3, 511, 7, 2, 0};
  Counters c = {{"ListenOverflows", 15}, {"ListenDrops", 16}, {"TCPBacklogDrop", 1}, {"TCPTimeouts", 9}};
  std::string text = format_metrics({l}, c);
  const char* labels = "{protocol=\"tcp\",address=\"127.0.0.1\",port=\"8080\",command=\"nginx\"}";
  CHECK(text.find(std::string("sockprobe_listener_queue") + labels + " 3\n") != std::string::npos);
  CHECK(text.find(std::string("sockprobe_listener_queue_max") + labels + " 511\n") != std::string::npos);
  CHECK(text.find(std::string("sockprobe_listener_drops_total") + labels + " 7\n") != std::string::npos);
  CHECK(text.find(std::string("sockprobe_listener_syn_recv") + labels + " 2\n") != std::string::npos);
  CHECK(text.find("# TYPE sockprobe_listener_drops_total counter\n") != std::string::npos);
  CHECK(text.find("# TYPE sockprobe_listener_queue gauge\n") != std::string::npos);
  CHECK(text.find("\nsockprobe_tcpext_listen_overflows_total 15\n") != std::string::npos);
  CHECK(text.find("\nsockprobe_tcpext_tcp_backlog_drop_total 1\n") != std::string::npos);
  // Counters this kernel lacks are left out, not zero; others are not exported.
  CHECK(text.find("tcp_req_q_full_drop") == std::string::npos);
  CHECK(text.find("timeouts") == std::string::npos);
  CHECK(text.size() > 6);
  CHECK(text.substr(text.size() - 6) == "# EOF\n");
}

TEST_CASE("Unix listener: no port label, hostile name escaped, unknown figures left out") {
  ListenerMetrics l{"unix", "@evil\"\n} 1\nfake_metric 2", std::nullopt, "", 1, 2, std::nullopt, std::nullopt, 0};
  std::string text = format_metrics({l}, {});
  CHECK(text.find("sockprobe_listener_queue{protocol=\"unix\",address=\"@evil\\\"\\n} 1\\nfake_metric 2\"} 1\n") !=
        std::string::npos);
  CHECK(text.find("\nfake_metric") == std::string::npos);
  CHECK(text.find("port=") == std::string::npos);
  CHECK(text.find("command=") == std::string::npos);
  CHECK(text.find("sockprobe_listener_drops_total") == std::string::npos);
  CHECK(text.find("sockprobe_listener_syn_recv") == std::string::npos);
}

TEST_CASE("an SO_REUSEPORT group with one label set is one series: shared SYN-RECV counted once") {
  ListenerMetrics a{"tcp", "0.0.0.0", 80, "srv", 1, 128, 2, 5, 42};
  ListenerMetrics b{"tcp", "0.0.0.0", 80, "srv", 3, 128, 4, 5, 42};
  ListenerMetrics other{"tcp", "0.0.0.0", 81, "srv", 0, 10, 0, 1, 0};
  std::string text = format_metrics({a, b, other}, {});
  const char* l80 = "{protocol=\"tcp\",address=\"0.0.0.0\",port=\"80\",command=\"srv\"}";
  CHECK(text.find(std::string("sockprobe_listener_queue") + l80 + " 4\n") != std::string::npos);
  CHECK(text.find(std::string("sockprobe_listener_queue_max") + l80 + " 256\n") != std::string::npos);
  CHECK(text.find(std::string("sockprobe_listener_drops_total") + l80 + " 6\n") != std::string::npos);
  CHECK(text.find(std::string("sockprobe_listener_syn_recv") + l80 + " 5\n") != std::string::npos);
  CHECK(text.find("port=\"81\",command=\"srv\"} 1\n") != std::string::npos);
}

TEST_CASE("every listen counter of a captured 6.18 netstat is exported") {
  auto text = ProcFs(test_data_dir()).read("netstat/linux-6.18-host.txt");
  REQUIRE(text.ok());
  std::string out = format_metrics({}, parse_tcpext(*text));
  for (const auto& name : listen_counter_names()) {
    INFO(name);
    CHECK(out.find("# TYPE sockprobe_tcpext_" + metrics_snake_case(name) + "_total counter\n") != std::string::npos);
  }
  CHECK(out.find("sockprobe_listener") == std::string::npos);
}
