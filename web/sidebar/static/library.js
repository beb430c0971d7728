/* Shared by 快捷回复 and 素材库: load one library (its category tree and items) from the server, browse the
   tree here (全部 › … at most 4 levels, 未分类 at the root), search on the server, and send an item through
   sendChatMessage, then count the use. The page script gives what differs: the URL, how an item looks and
   which messages it sends. */
(function () {
  'use strict';

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  function mount(spec) {
    var state = {section: spec.section, mine: '0', keyword: '', at: null, data: {categories: [], items: []}};
    var crumbs = document.getElementById('crumbs');
    var folders = document.getElementById('folders');
    var list = document.getElementById('items');
    var byId = {};

    function under(id) {  /* the category and every category below it */
      var found = [id], more = true;
      while (more) {
        more = false;
        state.data.categories.forEach(function (c) {
          if (found.indexOf(c.parent_id) >= 0 && found.indexOf(c.id) < 0) { found.push(c.id); more = true; }
        });
      }
      return found;
    }

    function render() {
      crumbs.textContent = '';
      var path = [], at = state.at;
      while (at !== null && at !== 0 && byId[at]) { path.unshift(byId[at]); at = byId[at].parent_id; }
      var root = el('a', '', '全部');
      root.addEventListener('click', function () { open(null); });
      crumbs.appendChild(root);
      if (state.at === 0) { crumbs.appendChild(document.createTextNode(' › 未分类')); }
      path.forEach(function (c) {
        crumbs.appendChild(document.createTextNode(' › '));
        var a = el('a', '', c.name);
        a.addEventListener('click', function () { open(c.id); });
        crumbs.appendChild(a);
      });
      folders.textContent = '';
      if (state.at !== 0 && !state.keyword) {
        var children = state.data.categories.filter(function (c) { return c.parent_id === state.at; });
        if (state.at === null) { children = children.concat([{id: 0, name: '未分类'}]); }
        children.forEach(function (c) {
          var li = el('li', 'lb-folder');
          li.appendChild(el('span', 'lb-folder__name', c.name));
          li.addEventListener('click', function () { open(c.id); });
          folders.appendChild(li);
        });
      }
      var shown = state.data.items.filter(function (item) {
        if (state.at === null || state.keyword) { return true; }
        if (state.at === 0) { return item.category_id === null; }
        return under(state.at).indexOf(item.category_id) >= 0;
      });
      list.textContent = '';
      if (!shown.length) { list.appendChild(el('li', 'sb-empty', state.keyword ? '没有找到相关内容' : '暂无内容')); }
      shown.forEach(function (item) {
        var li = el('li', 'lb-item');
        li.setAttribute('data-id', item.id);
        spec.look(item, li, el);
        var main = el('div', 'lb-item__main');
        main.appendChild(el('p', 'lb-item__title', item.title || '（无标题）'));
        if (item.text || item.url) { main.appendChild(el('p', 'lb-item__text', item.text || item.url)); }
        var meta = el('p', 'lb-item__meta', '已使用 ' + item.uses + ' 次');
        main.appendChild(meta);
        li.appendChild(main);
        var send = el('button', 'lb-send', '发送');
        send.type = 'button';
        send.addEventListener('click', function () {
          send.disabled = true;
          Sidebar.ready().then(function () { return spec.send(item, state.data); }).then(function () {
            return Sidebar.api('POST', spec.usesUrl(item));
          }).then(function (res) {
            item.uses = res.uses;
            meta.textContent = '已使用 ' + res.uses + ' 次';
            Sidebar.toast('已发送');
          }).catch(function (err) { Sidebar.toast(err.message, true); }).then(function () { send.disabled = false; });
        });
        li.appendChild(send);
        list.appendChild(li);
      });
    }

    function open(id) { state.at = id; render(); }

    function load() {
      var query = spec.query(state) + (state.keyword ? '&keyword=' + encodeURIComponent(state.keyword) : '');
      return Sidebar.api('GET', spec.url + '?' + query).then(function (data) {
        state.data = data;
        byId = {};
        data.categories.forEach(function (c) { byId[c.id] = c; });
        if (state.at && !byId[state.at]) { state.at = null; }
        render();
      }).catch(function (err) { Sidebar.toast(err.message, true); });
    }

    function tabs(id, key, cls) {
      var box = document.getElementById(id);
      if (!box) { return; }
      box.addEventListener('click', function (e) {
        var b = e.target.closest('button');
        if (!b) { return; }
        Array.prototype.forEach.call(box.children, function (x) { x.classList.toggle(cls, x === b); });
        state[key] = b.getAttribute('data-value');
        state.at = null;
        load();
      });
    }
    tabs('sections', 'section', 'lb-tab_on');
    tabs('owners', 'mine', 'lb-switch__opt_on');
    document.getElementById('search').addEventListener('submit', function (e) {
      e.preventDefault();
      state.keyword = this.elements.keyword.value.trim();
      load();
    });
    load();
  }

  /* sendChatMessage for one material: text, news (a link), image/video/file by the media_id the server makes,
     or a mini-program. */
  function sendMaterial(m) {
    if (m.kind === 'text') { return Sidebar.invoke('sendChatMessage', {msgtype: 'text', text: {content: m.text}}); }
    if (m.kind === 'link') {
      return Sidebar.invoke('sendChatMessage', {msgtype: 'news', news: {link: m.url, title: m.title,
        desc: m.text || '', imgUrl: m.pic_url || ''}});
    }
    if (m.kind === 'miniprogram') {
      return Sidebar.invoke('sendChatMessage', {msgtype: 'miniprogram', miniprogram: {appid: m.appid, title: m.title,
        imgUrl: m.pic_url || '', page: m.page}});
    }
    return Sidebar.api('POST', '/sidebar/api/materials/' + m.id + '/media').then(function (res) {
      var args = {msgtype: m.kind};
      args[m.kind] = {mediaid: res.media_id};
      return Sidebar.invoke('sendChatMessage', args);
    });
  }

  window.Library = {mount: mount, sendMaterial: sendMaterial};
})();
