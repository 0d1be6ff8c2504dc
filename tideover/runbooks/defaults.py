"""The runbooks Tideover ships, by component slug, written for the people on the shop floor.

They are a starting point: ``ensure_default_runbooks`` writes them as version 1 of a runbook
for any component with one of these slugs that has no runbook yet, and staff edit from there.
"""

from __future__ import annotations

IN_STORE_CHECKOUT = """\
# Plan B: Keep selling on offline registers
Move on when: registers still cannot take any payment 20 minutes after the incident started
## Store associates
- Keep ringing sales: the register saves them and sends them to HQ when the link is back
- Take cash and cards as normal; cards work offline up to the limit shown on the register
- Write nothing down by hand unless the register stops accepting sales
- Tell customers their points and receipts will arrive, just a little later
## Store managers
- Open every working register and pull staff from the floor to the tills
- Check one register every 15 minutes: does it still say "offline, saving sales"?
- Acknowledge this checklist so HQ knows your store has the plan
## Customer service
- Expect calls about missing points and e-receipts: they post automatically when stores reconnect
- Do not adjust points by hand during the incident; they would be counted twice
## Social team
- Reply to complaints with the status page link and the approved wording below
## IT
- Confirm which stores' agents are offline and that their queues are growing, not failing
- Post what you know in the incident channel every 15 minutes, even "no change"
## Say
- "Our registers are working offline for now, so your purchase goes through as normal."
- "Your points and e-receipt will arrive later today, you don't need to do anything."
## Don't say
- "The system is down." (it isn't: we are still selling)
- Any guess about when it will be fixed
- Anything about a hack or a data breach

# Plan C: Cash only, with a queue marshal
Move on when: registers cannot record cash sales either
## Store associates
- Put up the "Cash only for now" sign at every till and at the entrance
- Tell customers in the queue before they reach the till, so nobody is surprised
- Hold purchases for customers who go to an ATM (write their name on a hold slip)
## Store managers
- Name one person as queue marshal to walk the line and explain
- Call your district manager if the queue goes past the entrance
- Tick "stuck" on this checklist if you cannot take cash either
## Customer service
- Tell callers stores are open and taking cash; card and app payments are paused
## Social team
- Post the cash-only message on every channel with the status page link
## Say
- "We can only take cash for the moment. We're sorry, we know it's a nuisance."
- "We can hold your items while you visit the cash machine."
## Don't say
- "Come back tomorrow."
- Blame on a supplier or a named company

# Plan D: Pause sales, keep customers informed
## Store associates
- Stop ringing sales; keep helping customers find items and take their names for holds
- Offer the sign-up for an update (QR code at the till) to every customer who leaves without buying
## Store managers
- Close the tills, keep the doors open and keep staff on the floor
- Report to HQ every 30 minutes with "report a problem" on the store page
## IT
- Escalate to the vendor at the highest priority and record the ticket in the incident
## Say
- "We can't take payments right now. Leave your number and we'll tell you the moment we can."
## Don't say
- "We're closed."
"""

CARD_PAYMENTS = """\
# Plan B: Retry, then offer another way to pay
Move on when: more than half of card payments fail for 10 minutes
## Store associates
- If a card is declined, try once more, then offer cash, the app or another card
- Never ask for the card number or the PIN on paper
- Keep the receipt of every failed attempt: the customer was not charged
## Store managers
- Check the card terminal shows "connected"; restart one terminal as a test
- Acknowledge this checklist so HQ knows your store has the plan
## Customer service
- Customers worried about double charges: a declined payment is not taken; pending holds drop off within days
## Social team
- Answer "was I charged twice?" with the wording below and the status page link
## IT
- Confirm with the card processor and note their incident number on the timeline
## Say
- "Our card machines are having trouble connecting. You haven't been charged for the failed try."
## Don't say
- "Your card is the problem."
- "Your bank declined you."

# Plan C: Cash and app payments only
## Store associates
- Put up the "Card payments paused" sign; point customers to cash or the app
- Hold items for customers who go to a cash machine
## Store managers
- Move a staff member to the entrance to tell customers before they queue
## Customer service
- Tell callers cards are paused in stores; the web shop still takes cards if it does
## Social team
- Post the card-pause message with the status page link, and repeat it on each update
## Say
- "Card payments are paused for now; cash and the app work. We're sorry for the hassle."
## Don't say
- Any estimate of when cards will work again
"""

ONLINE_CHECKOUT = """\
# Plan B: Keep orders safe and tell shoppers
Move on when: checkout errors stay above 20% for 15 minutes
## Customer service
- Customers whose order failed: check the order history before they try again, to avoid double orders
- Offer to place phone orders for urgent items
## Social team
- Reply to "can't check out" posts with the status page link and the wording below
## IT
- Put the "checkout is slow" banner on the web shop
- Confirm whether payments were taken for failed orders, and how many
## Store associates
- Customers who came in because the website failed: help them buy in store and offer the update sign-up
## Say
- "Our website checkout is having trouble. Your basket is saved; please try again a little later."
- "If you were charged for an order you didn't get, it will be refunded automatically."
## Don't say
- "Your payment information may have leaked."
- "It's your browser."

# Plan C: Pause online checkout
## IT
- Switch the web shop to "browse only" with the message agreed with comms
## Customer service
- Take phone orders for customers who need something today; note them for goodwill later
## Social team
- Post that checkout is paused, with the status page link; reply to every direct complaint within 30 minutes
## Say
- "We've paused online checkout while we fix it. Your basket is saved. Our stores are open."
## Don't say
- Any time we'll be back unless IT confirmed it
"""

LOYALTY = """\
# Plan B: Sell as normal, points follow
Move on when: points are still not posting two hours after the incident started
## Store associates
- Keep scanning the loyalty card or phone number: the sale records it and points post later
- If a customer wants to use a reward that won't scan, note the code on the receipt and call your manager
## Store managers
- Approve rewards that won't scan at the till by hand (up to the usual limit) and note the code
- Acknowledge this checklist so HQ knows your store has the plan
## Customer service
- Points bought during the incident post automatically with the time of purchase; do not add them by hand
- Rewards that could not be used: tell the customer the code stays valid
## Social team
- Reply to "my points are missing" with the wording below
## Say
- "Your points are recorded and will show up in your account later today."
- "Your reward code stays valid; nothing is lost."
## Don't say
- "Your points are gone."
- "It can take weeks."

# Plan C: Goodwill at the till
## Store managers
- Give the goodwill discount approved by HQ to members whose reward would not work
## Customer service
- Log each member who complained, so the goodwill offer reaches them after the incident
## Say
- "We're sorry: here's something for the trouble. Your points will still post."
## Don't say
- Promises of extra points we have not approved
"""

DEFAULT_RUNBOOKS: dict[str, tuple[str, str]] = {
    "in-store-checkout": ("In-store checkout down", IN_STORE_CHECKOUT),
    "card-payments": ("Card payments failing", CARD_PAYMENTS),
    "online-checkout": ("Online checkout failing", ONLINE_CHECKOUT),
    "loyalty": ("Loyalty points and rewards delayed", LOYALTY),
}
