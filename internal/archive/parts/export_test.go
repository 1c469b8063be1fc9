package parts

// The package's internals that its external tests (package parts_test) look at.

// Classify is classify.
var Classify = classify

// Stripe is stripe.
var Stripe = stripe

// StripeMax is stripeMax, for the tests to make stripes small.
var StripeMax = &stripeMax

// JoinNames is joinNames.
var JoinNames = joinNames

// KeepAside is keepAside.
var KeepAside = keepAside
