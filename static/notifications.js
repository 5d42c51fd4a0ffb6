// Live notifications: one WebSocket per page (/ws/notifications/). Each notification bumps
// the unread badge and reloads, from the server, the parts of the page marked
// data-live-region (the inbox's count and list, the contract page's status and progress,
// the notification centre's list). Without this script the pages work as before: they are
// up to date at each load. On a lost connection it reconnects, asking for what it missed
// since the last id it saw, and drops an id it already has; closed by the server with 4401
// (this session logged out, or the password changed), it stays closed.
(function () {
  "use strict";
  var body = document.body;
  var path = body && body.getAttribute("data-notifications-socket");
  if (!path || !window.WebSocket || !window.fetch || !window.DOMParser) {
    return;
  }
  var lastId = parseInt(body.getAttribute("data-notifications-after"), 10) || 0;
  var seen = {};
  var delay = 1000;
  var refreshTimer = null;
  var pendingContracts = {};
  var refreshAll = false;
  var REVOKED = 4401;

  function updateBadge(step) {
    var badge = document.querySelector("[data-unread-badge]");
    if (!badge) {
      return;
    }
    var count = (parseInt(badge.textContent, 10) || 0) + step;
    badge.textContent = String(count);
    badge.classList.toggle("nav-count--zero", count === 0);
    var label = document.querySelector("[data-unread-label]");
    if (label) {
      label.textContent = label.textContent.replace(/\d+/, String(count));
    }
  }

  function regionWanted(region) {
    var contract = region.getAttribute("data-live-contract");
    return refreshAll || !contract || pendingContracts[contract];
  }

  function refreshRegions() {
    var regions = Array.prototype.filter.call(
      document.querySelectorAll("[data-live-region]"), regionWanted);
    pendingContracts = {};
    refreshAll = false;
    if (!regions.length) {
      return;
    }
    fetch(window.location.href, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) {
          return;
        }
        var fresh = new DOMParser().parseFromString(html, "text/html");
        regions.forEach(function (region) {
          var name = region.getAttribute("data-live-region");
          var replacement = fresh.querySelector('[data-live-region="' + name + '"]');
          // Never pull a form from under someone typing or choosing in it.
          if (!replacement || region.contains(document.activeElement) &&
              /^(INPUT|SELECT|TEXTAREA)$/.test(document.activeElement.tagName)) {
            return;
          }
          region.innerHTML = replacement.innerHTML;
        });
      })
      .catch(function () { /* the next notification or reload will bring it */ });
  }

  function scheduleRefresh(notification) {
    if (notification.contract) {
      pendingContracts[String(notification.contract)] = true;
    } else {
      refreshAll = true;
    }
    // Several notifications of one change arrive together: one reload for all of them.
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refreshRegions, 300);
  }

  function receive(event) {
    var notification;
    try {
      notification = JSON.parse(event.data);
    } catch (error) {
      return;
    }
    if (notification.type !== "notification" || seen[notification.id]) {
      return;
    }
    seen[notification.id] = true;
    lastId = Math.max(lastId, notification.id);
    updateBadge(1);
    scheduleRefresh(notification);
  }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + window.location.host + path + "?after=" + lastId);
    socket.onopen = function () {
      delay = 1000;
      body.setAttribute("data-notifications-state", "open");
    };
    socket.onmessage = receive;
    socket.onclose = function (event) {
      if (event.code === REVOKED) {
        body.setAttribute("data-notifications-state", "revoked");
        return;
      }
      body.setAttribute("data-notifications-state", "closed");
      // Back off up to 30 s; the reconnection asks for everything after lastId.
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }

  connect();
}());
