/* The sidebar's door: who is this chat with? (getContext, then getCurExternalContact → the customer's profile,
   or getCurExternalChat in a group chat → the group's.) */
(function () {
  'use strict';
  var status = document.getElementById('entry-status');
  Sidebar.ready().then(function () {
    return Sidebar.invoke('getContext');
  }).then(function (ctx) {
    if (ctx.entry === 'group_chat_tools') {
      return Sidebar.invoke('getCurExternalChat').then(function (res) {
        return '/sidebar/group?chat_id=' + encodeURIComponent(res.chatId);
      });
    }
    if (ctx.entry !== 'single_chat_tools' && ctx.entry !== 'contact_profile') {
      throw new Error('请在与客户的聊天中打开侧边栏');
    }
    return Sidebar.invoke('getCurExternalContact').then(function (res) {
      return '/sidebar/customer?external_userid=' + encodeURIComponent(res.userId);
    });
  }).then(function (url) {
    location.replace(url);
  }).catch(function (err) {
    document.querySelector('.sb-spinner').hidden = true;
    status.textContent = err.message;
  });
})();
