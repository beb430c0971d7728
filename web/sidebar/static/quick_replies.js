/* 快捷回复: 话术库 and 常用语 send their text, then each attachment; 常用链接 sends a link card. */
(function () {
  'use strict';
  if (!document.getElementById('library')) { return; }
  Library.mount({
    section: 'qa',
    url: '/sidebar/api/quick-replies',
    query: function (state) { return 'kind=' + state.section + '&mine=' + (state.mine === '1'); },
    usesUrl: function (item) { return '/sidebar/api/quick-replies/' + item.id + '/uses'; },
    look: function (item, li, el) {
      if (item.kind === 'link') { li.appendChild(el('div', 'lb-item__icon', '链接')); }
    },
    send: function (item, data) {
      if (item.kind === 'link') {
        return Sidebar.invoke('sendChatMessage', {msgtype: 'news', news: {link: item.url, title: item.title,
          desc: item.url, imgUrl: ''}});
      }
      var materials = {};
      (data.materials || []).forEach(function (m) { materials[m.id] = m; });
      var sent = Sidebar.invoke('sendChatMessage', {msgtype: 'text', text: {content: item.text}});
      item.attachments.forEach(function (id) {
        if (materials[id]) { sent = sent.then(function () { return Library.sendMaterial(materials[id]); }); }
      });
      return sent;
    }
  });
})();
