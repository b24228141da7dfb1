"""The clinical measures over the canonical tables: timepoints, response and remission,
durability, attrition, activity, trajectories, groups, PCL-5 depth, claims and safety."""
