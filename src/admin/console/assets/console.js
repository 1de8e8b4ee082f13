// The console's only script of its own: copy buttons for secrets shown once.
/* global document, navigator, Element */
document.addEventListener('click', (e) => {
  const btn = e.target instanceof Element ? e.target.closest('button[data-copy]') : null
  if (!btn) return
  const input = document.getElementById(btn.getAttribute('data-copy'))
  if (!input) return
  const status = btn.closest('section')?.querySelector('.copied')
  const done = (ok) => {
    if (status)
      status.textContent = ok ? 'Copied to the clipboard.' : 'Copy failed: select the text and copy it yourself.'
  }
  input.select()
  if (navigator.clipboard)
    navigator.clipboard.writeText(input.value).then(
      () => done(true),
      () => done(document.execCommand('copy')),
    )
  else done(document.execCommand('copy'))
})
