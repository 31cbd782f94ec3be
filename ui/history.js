// FaceAtlas: one browser history entry per page visited, whose address is that page's view (ui/links.py).
//
// Streamlit's frontend adds a history entry (pushState) for every change of st.query_params, so each widget
// change was one more Back press, and a page opened from the sidebar got two entries: its bare path, then its
// address once the page wrote `dataset=`. Worse, when the new page wrote its address before the frontend had
// moved to the new path, that address was pushed under the old page's path: Back then reached the old page
// without its settings. Here a push to the same path replaces the current entry (the view changed, the entry
// follows it), and while a page link is being followed, an address written under the old path is left out: the
// push to the new path carries it. Pushes to another path (a page change) stay pushes.
(() => {
  if (window.__faceatlasHistory) return;
  window.__faceatlasHistory = true;
  const PAGE_LINKS = '[data-testid="stSidebarNavLink"], [data-testid="stPageLink-NavLink"]';
  const LEAVING_MS = 30000; // a page link that led nowhere stops holding the address back after this
  let leavingFor = null; // the page link just clicked ({path, at}), until the push to its path
  document.addEventListener(
    "click",
    (event) => {
      const link = event.target instanceof Element ? event.target.closest(PAGE_LINKS) : null;
      if (!link || !link.href || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey) return;
      const to = new URL(link.href, location.href);
      if (to.origin === location.origin && to.pathname !== location.pathname) {
        leavingFor = { path: to.pathname, at: Date.now() };
      }
    },
    true,
  );
  window.addEventListener("popstate", () => {
    leavingFor = null;
  });
  const push = history.pushState.bind(history);
  const replace = history.replaceState.bind(history);
  history.pushState = (data, title, url) => {
    const to = new URL(url, location.href);
    if (to.pathname !== location.pathname) {
      leavingFor = null;
      return push(data, title, url);
    }
    if (leavingFor !== null && Date.now() - leavingFor.at < LEAVING_MS) return undefined; // the next page's address
    return replace(data, title, url);
  };
})();
