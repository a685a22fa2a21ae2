/*
 * Teiki on-site offer snippet (ヒキアゲール). Put on the FAQ, contact and cancel pages:
 *
 *   <div id="teiki-offer" data-page="cancel"
 *        data-offer-endpoint="/teiki/offer" data-accept-endpoint="/teiki/accept"></div>
 *   <script src="/assets/teiki-offer.js" defer></script>
 *
 * The endpoints are the shop's own: its server knows the logged-in customer, signs the call to the
 * decision service with the secret (never sent to the browser) and passes the answer through
 * (connectors/onsite_offers/README.md). 204 or any error: nothing is shown and the page is left as
 * it is. Text is inserted as text, never as HTML.
 */
(function () {
  "use strict";

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function formatDate(iso) {
    var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso || "");
    return m ? Number(m[2]) + "月" + Number(m[3]) + "日" : "";
  }

  function render(box, offer, acceptEndpoint) {
    var card = el("div", "teiki-offer-card");
    card.setAttribute("role", "region");
    card.setAttribute("aria-label", "お客様への特別なご案内");
    card.setAttribute("data-offer-id", offer.offer_id || "");
    if (offer.image_url && /^https:\/\//.test(offer.image_url)) {
      var img = el("img", "teiki-offer-image");
      img.src = offer.image_url;
      img.alt = "";
      card.appendChild(img);
    }
    card.appendChild(el("p", "teiki-offer-text", offer.text));
    var expires = formatDate(offer.expires_on);
    if (expires) card.appendChild(el("p", "teiki-offer-expires", "お申し込み期限: " + expires));
    var button = el("button", "teiki-offer-accept", "プレゼントを受け取る");
    button.type = "button";
    var status = el("p", "teiki-offer-status");
    status.setAttribute("aria-live", "polite");
    button.addEventListener("click", function () {
      button.disabled = true;
      fetch(acceptEndpoint, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ token: offer.token })
      }).then(function (resp) {
        if (resp.status === 200) {
          status.textContent = "お申し込みを受け付けました。次回のお届けに同梱いたします。";
          card.setAttribute("data-accepted", "true");
          button.remove();
        } else {
          status.textContent = "お申し込みを受け付けられませんでした。お手数ですがお問い合わせください。";
          button.disabled = false;
        }
      }, function () {
        status.textContent = "通信に失敗しました。時間をおいてもう一度お試しください。";
        button.disabled = false;
      });
    });
    card.appendChild(button);
    card.appendChild(status);
    box.appendChild(card);
    box.setAttribute("data-state", "shown");
  }

  function start() {
    var box = document.getElementById("teiki-offer");
    if (!box) return;
    var page = box.getAttribute("data-page");
    var offerEndpoint = box.getAttribute("data-offer-endpoint") || "/teiki/offer";
    var acceptEndpoint = box.getAttribute("data-accept-endpoint") || "/teiki/accept";
    if (["faq", "contact", "cancel"].indexOf(page) < 0) return;
    var sep = offerEndpoint.indexOf("?") < 0 ? "?" : "&";
    fetch(offerEndpoint + sep + "page=" + encodeURIComponent(page), { credentials: "same-origin" })
      .then(function (resp) {
        if (resp.status !== 200) { box.setAttribute("data-state", "none"); return null; }
        return resp.json();
      })
      .then(function (offer) {
        if (offer && offer.token && offer.text) render(box, offer, acceptEndpoint);
      })
      .catch(function () { box.setAttribute("data-state", "none"); });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
