/* 客户详情: tags (mark_tag through the server), custom fields, follow-up records, more of the timeline,
   退回公海. */
(function () {
  'use strict';
  var root = document.getElementById('profile');
  if (!root) { return; }
  var base = '/sidebar/api/customers/' + root.getAttribute('data-customer');
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  var avatar = document.getElementById('avatar');
  function noAvatar() {  /* an avatar that cannot load shows the name's first character, as WeCom does */
    avatar.replaceWith(el('div', 'sb-head__avatar sb-head__avatar_empty', avatar.getAttribute('data-initial')));
  }
  if (avatar) {
    if (avatar.complete && !avatar.naturalWidth) { noAvatar(); } else { avatar.addEventListener('error', noAvatar); }
  }
  var tags = document.getElementById('tags');
  var picker = document.getElementById('tag-picker');
  var addButton = document.getElementById('tag-add');

  function current() {
    return Array.prototype.map.call(tags.querySelectorAll('.sb-chip[data-tag]'), function (c) {
      return c.getAttribute('data-tag');
    });
  }

  function chip(id, name, pending) {
    var node = el('span', 'sb-chip' + (pending ? ' sb-chip_pending' : ''), name);
    node.setAttribute('data-tag', id);
    var x = el('button', 'sb-chip__x', '×');
    x.type = 'button';
    x.setAttribute('aria-label', '移除' + name);
    node.appendChild(x);
    return node;
  }

  function syncPicker() {
    var have = current();
    Array.prototype.forEach.call(picker.querySelectorAll('.sb-chip_option'), function (b) {
      b.disabled = have.indexOf(b.getAttribute('data-tag')) >= 0;
    });
  }

  function mark(change, optimistic) {
    return Sidebar.api('POST', base + '/tags', change).then(function (res) {
      if (res.status === 'done') {
        Array.prototype.forEach.call(tags.querySelectorAll('.sb-chip[data-tag]'), function (c) { c.remove(); });
        res.tags.forEach(function (t) { tags.insertBefore(chip(String(t.id), t.name, false), addButton); });
      } else {
        optimistic();
      }
      syncPicker();
      Sidebar.toast(res.status === 'done' ? '已更新标签' : '标签同步中');
    }).catch(function (err) { Sidebar.toast(err.message, true); });
  }

  if (tags) {
    tags.addEventListener('click', function (ev) {
      var x = ev.target.closest('.sb-chip__x');
      if (!x) { return; }
      var node = x.parentNode;
      mark({remove: [Number(node.getAttribute('data-tag'))]}, function () { node.remove(); });
    });
  }
  if (addButton) {
    addButton.addEventListener('click', function () { picker.hidden = !picker.hidden; syncPicker(); });
    picker.addEventListener('click', function (ev) {
      var b = ev.target.closest('.sb-chip_option');
      if (!b || b.disabled) { return; }
      var id = b.getAttribute('data-tag');
      mark({add: [Number(id)]}, function () { tags.insertBefore(chip(id, b.textContent, true), addButton); });
    });
  }

  var list = document.getElementById('timeline');
  function entry(e) {
    var li = el('li', 'sb-timeline__item');
    li.setAttribute('data-id', e.id);
    var head = el('p', 'sb-timeline__head');
    head.appendChild(el('b', '', e.label));
    head.appendChild(document.createTextNode(' '));
    head.appendChild(el('span', 'sb-muted', e.who + ' · ' + e.at));
    li.appendChild(head);
    if (e.text) { li.appendChild(el('p', 'sb-timeline__text', e.text)); }
    return li;
  }

  var form = document.getElementById('follow-up');  // sections may be switched off (侧边栏配置)
  if (form) {
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var body = {text: form.text.value};
      if (form.type_id) { body.type_id = Number(form.type_id.value); }
      var button = form.querySelector('button');
      button.disabled = true;
      Sidebar.api('POST', base + '/follow-ups', body).then(function () {
        form.text.value = '';
        return Sidebar.api('GET', base + '/timeline');
      }).then(function (page) {
        if (list) {
          list.textContent = '';
          page.items.forEach(function (e) { list.appendChild(entry(e)); });
        }
        Sidebar.toast('已保存跟进记录');
      }).catch(function (err) { Sidebar.toast(err.message, true); }).then(function () { button.disabled = false; });
    });
  }

  var more = document.getElementById('timeline-more');
  if (more) {
    more.addEventListener('click', function () {
      var last = list.querySelector('.sb-timeline__item:last-child');
      Sidebar.api('GET', base + '/timeline?before=' + last.getAttribute('data-id')).then(function (page) {
        page.items.forEach(function (e) { list.appendChild(entry(e)); });
        if (page.items.length < Number(root.getAttribute('data-page-size'))) { more.remove(); }
      }).catch(function (err) { Sidebar.toast(err.message, true); });
    });
  }
  /* custom fields: only the ones changed are sent (a masked phone left alone stays as stored); empty clears */
  function fieldValue(input, type) {
    if (type === 'multi_select') {
      return Array.prototype.filter.call(input.options, function (o) { return o.selected; })
        .map(function (o) { return o.value; });
    }
    if (input.value === '') { return null; }
    return type === 'number' ? Number(input.value) : input.value;
  }
  var fieldRows = document.querySelectorAll('.sb-field');
  var initial = {};
  Array.prototype.forEach.call(fieldRows, function (row) {
    initial[row.getAttribute('data-key')] = JSON.stringify(fieldValue(row.querySelector('.sb-field__input'),
      row.getAttribute('data-type')));
  });
  var saveFields = document.getElementById('fields-save');
  if (saveFields) {
    saveFields.addEventListener('click', function () {
      var body = {};
      Array.prototype.forEach.call(fieldRows, function (row) {
        var key = row.getAttribute('data-key');
        var value = fieldValue(row.querySelector('.sb-field__input'), row.getAttribute('data-type'));
        if (JSON.stringify(value) !== initial[key]) { body[key] = value; }
      });
      if (!Object.keys(body).length) { Sidebar.toast('没有修改'); return; }
      saveFields.disabled = true;
      Sidebar.api('POST', base + '/fields', body).then(function () {
        Object.keys(body).forEach(function (key) { initial[key] = JSON.stringify(body[key]); });
        Sidebar.toast('已保存客户信息');
      }).catch(function (err) {  /* a 422 names each bad field: show its label and the reason */
        var named = Object.keys(err.fields || {}).map(function (key) {
          var row = document.querySelector('.sb-field[data-key="' + key + '"] .weui-cell__bd');
          return (row ? row.firstChild.textContent : key) + '：' + err.fields[key];
        });
        Sidebar.toast(named.length ? named.join('；') : err.message, true);
      }).then(function () { saveFields.disabled = false; });
    });
  }

  var giveBack = document.getElementById('pool-return-button');
  if (giveBack) {
    giveBack.addEventListener('click', function () {
      var reason = document.getElementById('pool-reason');
      if (!window.confirm('确定将该客户退回公海？原因：' + reason.options[reason.selectedIndex].text)) { return; }
      giveBack.disabled = true;
      Sidebar.api('POST', base + '/pool', {reason_id: Number(reason.value)}).then(function () {
        document.getElementById('pool-return').remove();
        Sidebar.toast('已退回公海');
      }).catch(function (err) { giveBack.disabled = false; Sidebar.toast(err.message, true); });
    });
  }
})();
