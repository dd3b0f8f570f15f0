export const operatorTasks = [];
