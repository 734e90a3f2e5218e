// The toolbar keeps to one row at every width: when its items do not fit, those with the lowest data-keep
// move into the ⋯ menu (and come back, in their places, when there is room again).
import { el } from "./state.js";

const items = () => [...el.toolbar.querySelectorAll(":scope > [data-keep], #more-menu > [data-keep]")];

/** Put every item back in the toolbar, in document order (placeholders mark where each one lives). */
function restore() {
  for (const item of items()) {
    if (item.parentElement === el.moreMenu) item.__home.replaceWith(item);
  }
}

function overflowing() {
  return el.toolbar.scrollWidth > el.toolbar.clientWidth + 1;
}

export function layoutToolbar() {
  restore();
  el.moreButton.hidden = true;
  if (!overflowing()) {
    closeMenu();
    return;
  }
  el.moreButton.hidden = false; // it takes room too
  const order = items().sort((a, b) => Number(a.dataset.keep) - Number(b.dataset.keep));
  const moved = [];
  for (const item of order) {
    if (!overflowing()) break;
    if (!item.__home) item.__home = document.createComment(item.id || item.dataset.tool || "item");
    item.replaceWith(item.__home);
    moved.push(item);
  }
  // The menu lists them in toolbar order, not in the order they left.
  const before = (a, b) => (a.__home.compareDocumentPosition(b.__home) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1);
  el.moreMenu.append(...moved.sort(before));
}

export function closeMenu() {
  el.moreMenu.hidden = true;
  el.moreButton.setAttribute("aria-expanded", "false");
}

export function wireToolbar() {
  el.moreButton.addEventListener("click", (e) => {
    e.stopPropagation();
    const open = el.moreMenu.hidden;
    el.moreMenu.hidden = !open;
    el.moreButton.setAttribute("aria-expanded", String(open));
  });
  // A click on an action in the menu does it and closes the menu; sliders and checkboxes keep it open.
  el.moreMenu.addEventListener("click", (e) => { if (e.target.closest("button")) closeMenu(); });
  document.addEventListener("pointerdown", (e) => {
    if (!el.moreMenu.hidden && !e.target.closest(".more-wrap")) closeMenu();
  });
  window.addEventListener("resize", layoutToolbar);
  layoutToolbar();
}
