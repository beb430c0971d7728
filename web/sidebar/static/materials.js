/* 素材库: browse by kind and category, send a tap as its own message. */
(function () {
  'use strict';
  if (!document.getElementById('library')) { return; }
  var LABELS = {text: '文本', image: '图片', link: '链接', file: '文件', video: '视频', miniprogram: '小程序'};
  Library.mount({
    section: '',
    url: '/sidebar/api/materials',
    query: function (state) { return state.section ? 'kind=' + state.section : ''; },
    usesUrl: function (item) { return '/sidebar/api/materials/' + item.id + '/uses'; },
    look: function (item, li, el) {
      var src = item.thumb || (item.kind === 'image' ? item.pic_url : null);
      if (src) {
        var img = el('img', 'lb-item__thumb');
        img.alt = '';
        img.src = src;
        li.appendChild(img);
      } else {
        li.appendChild(el('div', 'lb-item__icon lb-item__icon_' + item.kind, LABELS[item.kind] || item.kind));
      }
      if (!item.text && item.filename) {
        item.text = [item.filename === item.title ? '' : item.filename, item.size ? Math.ceil(item.size / 1024) + ' KB' : '']
          .filter(Boolean).join(' · ');
      }
    },
    send: function (item) { return Library.sendMaterial(item); }
  });
})();
