/* The dashboard: every figure comes from the admin API (the session cookie signs the reads in), drawn with the
   vendored Chart.js. `window.scrmDashboard` keeps the answers and the charts, so what the page shows can be
   compared with the API (tests/integration/test_dashboard_browser.py). */
(function () {
  "use strict";
  var COLORS = ["#07c160", "#3370ff", "#ff8800", "#d83931", "#7f3bf5", "#14c0ff", "#f5c400", "#8f959e"];
  var state = { data: {}, charts: {} };
  window.scrmDashboard = state;

  function query(extra) {
    var params = new URLSearchParams(extra || {});
    return params.toString() ? "?" + params.toString() : "";
  }

  function getJSON(path) {
    return fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      if (r.status === 401) { window.location.assign("/admin/login"); throw new Error("signed out"); }
      return r.json().then(function (body) { return { ok: r.ok, status: r.status, body: body }; });
    });
  }

  function must(answer) {
    if (!answer.ok) { throw new Error((answer.body.error && answer.body.error.message) || "HTTP " + answer.status); }
    return answer.body;
  }

  function percent(change) {
    if (change === null || change === undefined) { return "环比 –"; }
    return "环比 " + (change > 0 ? "+" : "") + (change * 100).toFixed(1) + "%";
  }

  function text(id, value) { document.getElementById(id).textContent = value; }

  function empty(canvasId, isEmpty) {
    var canvas = document.getElementById(canvasId);
    canvas.hidden = isEmpty;
    canvas.parentNode.querySelector(".empty").hidden = !isEmpty;
    return isEmpty;
  }

  function chart(name, canvasId, config) {
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, config.options);
    state.charts[name] = new window.Chart(document.getElementById(canvasId), config);
  }

  function bars(labels, sets, horizontal) {
    return { type: "bar", data: { labels: labels, datasets: sets.map(function (s, n) {
      return { label: s.label, data: s.data, backgroundColor: COLORS[n % COLORS.length] };
    }) }, options: { indexAxis: horizontal ? "y" : "x", scales: {
      x: { beginAtZero: true, ticks: { precision: 0 } }, y: { beginAtZero: true, ticks: { precision: 0 } } } } };
  }

  function drawCustomers(c) {
    text("card-previous", c.previous.new); text("card-previous-range", c.previous.from + " ~ " + c.previous.to);
    text("card-new", c.new); text("card-lost", c.lost); text("card-net", c.net);
    text("card-new-change", percent(c.new_change)); text("card-lost-change", percent(c.lost_change));
    text("trend-range", c.from + " ~ " + c.to);
    chart("trend", "chart-trend", { type: "line", data: { labels: c.days.map(function (d) { return d.day; }),
      datasets: [["新增", "new", 0], ["流失", "lost", 3], ["净增", "net", 1]].map(function (s) {
        return { label: s[0], data: c.days.map(function (d) { return d[s[1]]; }), borderColor: COLORS[s[2]],
                 backgroundColor: COLORS[s[2]], tension: 0 };
      }) }, options: { scales: { y: { ticks: { precision: 0 } } } } });
    if (!empty("chart-channels", c.by_channel.length === 0)) {
      chart("channels", "chart-channels", { type: "doughnut", data: {
        labels: c.by_channel.map(function (r) { return r.channel || "未标记渠道"; }),
        datasets: [{ data: c.by_channel.map(function (r) { return r.new; }), backgroundColor: COLORS }] } });
    }
  }

  function drawFunnel(f) {
    var stages = f.stages.filter(function (s) { return s.outcome !== "lost"; });
    if (empty("chart-funnel", f.deals === 0)) { return; }
    chart("funnel", "chart-funnel", bars(stages.map(function (s) { return s.name; }),
      [{ label: "商机数", data: stages.map(function (s) { return s.count; }) }], true));
  }

  function drawStaff(s) {
    var top = s.items.slice(0, 10);
    if (empty("chart-staff", top.length === 0)) { return; }
    chart("staff", "chart-staff", bars(top.map(function (i) { return i.name || i.userid; }), [
      { label: "新增客户", data: top.map(function (i) { return i.customers_added; }) },
      { label: "跟进记录", data: top.map(function (i) { return i.follow_ups; }) }], true));
  }

  function figure(item, key) {
    var found = [item, item.funnel || {}, item.stats || {}].map(function (o) { return o[key]; })
      .filter(function (v) { return typeof v === "number"; });
    return found.length ? found[0] : 0;
  }

  function drawMass(answer) {
    var items = answer && answer.ok && Array.isArray(answer.body.items) ? answer.body.items.slice(0, 8) : [];
    state.data.mass = items;
    if (empty("chart-mass", items.length === 0)) { return; }
    chart("mass", "chart-mass", bars(items.map(function (m) { return "#" + m.id + " " + (m.text || "").slice(0, 10); }),
      [["目标", "target"], ["送达", "delivered"], ["已读", "read"]].map(function (k) {
        return { label: k[0], data: items.map(function (m) { return figure(m, k[1]); }) };
      })));
  }

  function load() {
    var asked = new URLSearchParams(window.location.search);
    var period = {};
    ["from", "to"].forEach(function (k) { if (asked.get(k)) { period[k] = asked.get(k); } });
    var form = document.getElementById("period");
    return getJSON("/api/v1/stats/customers" + query(period)).then(must).then(function (customers) {
      state.data.customers = customers;
      form.elements.from.value = customers.from; form.elements.to.value = customers.to;
      var same = { from: customers.from, to: customers.to };
      drawCustomers(customers);
      return Promise.all([
        getJSON("/api/v1/stats/staff" + query(same)).then(must),
        getJSON("/api/v1/funnel" + query(Object.assign({ all: "true" }, same))).then(must),
        getJSON("/api/v1/mass-messages" + query({ page_size: "8" })).catch(function () { return null; })
      ]);
    }).then(function (answers) {
      state.data.staff = answers[0]; state.data.funnel = answers[1];
      drawStaff(answers[0]); drawFunnel(answers[1]); drawMass(answers[2]);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var main = document.getElementById("dashboard");
    load().then(function () { main.dataset.state = "ready"; }, function (err) {
      var box = document.getElementById("dashboard-error");
      box.textContent = "加载失败：" + err.message; box.hidden = false; main.dataset.state = "error";
    });
  });
}());
