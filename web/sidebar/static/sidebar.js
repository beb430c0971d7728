/* Shared by every sidebar page: JSON calls with the session's CSRF token, WeCom's JS-SDK set-up (wx.config +
   wx.agentConfig, or ww.register with the @wecom/jssdk bridge) and its calls, and a toast. */
(function () {
  'use strict';
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || '';
  var JS_API = ['getContext', 'getCurExternalContact', 'getCurExternalChat', 'sendChatMessage'];

  function api(method, url, body) {
    var init = {method: method, credentials: 'same-origin', headers: {'X-CSRF-Token': csrf}};
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return fetch(url, init).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (r.status === 401) { location.reload(); }
        if (!r.ok) {
          var err = new Error((data.error && data.error.message) || ('请求失败 ' + r.status));
          err.fields = (data.error && data.error.fields) || {};
          throw err;
        }
        return data;
      });
    });
  }

  function pageUrl() { return location.href.split('#')[0]; }

  function ready() {
    return api('GET', '/sidebar/api/js-config?url=' + encodeURIComponent(pageUrl())).then(function (cfg) {
      return new Promise(function (resolve, reject) {
        if (window.ww && window.ww.register) {
          window.ww.register({corpId: cfg.appId, agentId: cfg.agentid, jsApiList: JS_API,
            getConfigSignature: function () { return cfg.config; },
            getAgentConfigSignature: function () { return cfg.agentConfig; }});
          return resolve(cfg);
        }
        var wx = window.wx;
        if (!wx) { return reject(new Error('请在企业微信中打开')); }
        wx.config({beta: true, debug: false, appId: cfg.appId, timestamp: cfg.config.timestamp,
          nonceStr: cfg.config.nonceStr, signature: cfg.config.signature, jsApiList: JS_API});
        wx.error(function (res) { reject(new Error(res.errMsg || 'wx.config 失败')); });
        wx.ready(function () {
          wx.agentConfig({corpid: cfg.appId, agentid: cfg.agentid, timestamp: cfg.agentConfig.timestamp,
            nonceStr: cfg.agentConfig.nonceStr, signature: cfg.agentConfig.signature, jsApiList: JS_API,
            success: function () { resolve(cfg); },
            fail: function (res) { reject(new Error(res.errMsg || 'wx.agentConfig 失败')); }});
        });
      });
    });
  }

  function invoke(name, args) {
    if (window.ww && window.ww[name]) { return Promise.resolve(window.ww[name](args || {})); }
    return new Promise(function (resolve, reject) {
      window.wx.invoke(name, args || {}, function (res) {
        if (res.err_msg === name + ':ok') { resolve(res); } else { reject(new Error(res.err_msg || name + ' 失败')); }
      });
    });
  }

  var timer;
  function toast(text, isError) {
    var el = document.getElementById('toast');
    if (!el) { return; }
    el.textContent = text;
    el.className = 'sb-toast' + (isError ? ' sb-toast_error' : '');
    el.hidden = false;
    clearTimeout(timer);
    timer = setTimeout(function () { el.hidden = true; }, 2000);
  }

  window.Sidebar = {api: api, ready: ready, invoke: invoke, toast: toast};
})();
