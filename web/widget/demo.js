// The demo host page's own script: opens the widget from a page button, the
// way an exchange would wire its "Contact support" link.
document.getElementById('contact-support')?.addEventListener('click', () => {
  window.Custos?.open();
});
