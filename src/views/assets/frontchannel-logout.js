// OpenID Connect Front-Channel Logout 1.0 §3: the page after signing out frames each client's
// frontchannel_logout_uri; once every iframe has loaded (or after 5 s, whichever comes first)
// it goes on to the continue link: the client's post_logout_redirect_uri or our signed-out page.
/* global document, window */
;(function () {
  var frames = document.querySelectorAll('iframe.frontchannel-logout')
  var next = document.getElementById('frontchannel-continue')
  if (!next) return
  var left = frames.length
  var gone = false
  function go() {
    if (gone) return
    gone = true
    window.location.replace(next.getAttribute('href'))
  }
  function loaded() {
    left -= 1
    if (left <= 0) go()
  }
  for (var i = 0; i < frames.length; i++) frames[i].addEventListener('load', loaded)
  window.setTimeout(go, 5000)
})()
