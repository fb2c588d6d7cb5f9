"""trialbook: a lab notebook for machine-learning experiments."""
