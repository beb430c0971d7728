/* The sidebar's door: who is this chat with? (getContext, then getCurExternalContact) → their profile. */
(function () {
  'use strict';
  var status = document.getElementById('entry-status');
  Sidebar.ready().then(function () {
    return Sidebar.invoke('getContext');
  }).then(function (ctx) {
    if (ctx.entry === 'group_chat_tools') { throw new Error('群聊的侧边栏还未开放'); }
    if (ctx.entry !== 'single_chat_tools' && ctx.entry !== 'contact_profile') {
      throw new Error('请在与客户的单聊中打开侧边栏');
    }
    return Sidebar.invoke('getCurExternalContact');
  }).then(function (res) {
    location.replace('/sidebar/customer?external_userid=' + encodeURIComponent(res.userId));
  }).catch(function (err) {
    document.querySelector('.sb-spinner').hidden = true;
    status.textContent = err.message;
  });
})();
